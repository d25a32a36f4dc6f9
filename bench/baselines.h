#ifndef PROTEAN_ADMIN_BENCH_BASELINES_H_
#define PROTEAN_ADMIN_BENCH_BASELINES_H_

// The two baselines the rebuild engine is measured against (bench/README.md, issue 6), and the
// correctness check every measured method must pass.
//
// (c) Set-based floor: the Balances table computed by one INSERT ... SELECT ... GROUP BY
//     over the messages (v1 `amt` upcast in SQL). The double precision sums add in event
//     order exactly as the engine does (0 + a1 + a2 ...; 0 + a1 == a1), so tables compare
//     equal without a tolerance (see FloorForm).
// (d) Per-event-transaction replay, Protean's way: the events are loaded, then for each one
//     BEGIN; SELECT the row by key; INSERT or UPDATE it; COMMIT.
//
// Both follow the bank semantics of docs/domain-toml.md / docs/protean-compatibility.md §7:
// Registered creates the row (name, balance 0); Transacted adds its amount, or creates the row with
// name "" and balance = amount when absent. The floor assumes, as the workload guarantees,
// that no user registers after their first transaction (a late Registered would reset the
// balance to 0, which one GROUP BY does not express).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "bench/workload.h"
#include "storage/pg_connection.h"

namespace protean_admin::bench {

// DROP + CREATE `table` (user_id varchar(255) PRIMARY KEY, name varchar(255),
// balance double precision) in the connection's default schema.
absl::Status CreateBalancesTable(storage::PgConnection& conn, std::string_view table);

// The global position of the n-th event (1-based) of the user and transaction categories,
// or of the last one when there are fewer.
absl::StatusOr<int64_t> NthEventPosition(storage::PgConnection& conn, const BankNames& names,
                                         int64_t n);

// Number of events in both categories up to `head` (all when nullopt).
absl::StatusOr<int64_t> CountEvents(storage::PgConnection& conn, const BankNames& names,
                                    std::optional<int64_t> head);

// Two set-based forms of the same statement:
//  - kOrderedAggregate: sum(amount ORDER BY global_position) per user: exact by definition
//    (the reference every method is checked against);
//  - kOrderedInput: sum(amount) over a subquery ordered by global_position: a hash
//    aggregate adds each group's values in input order, which is faster (no per-group sort)
//    but only as good as the plan, so it is itself checked against kOrderedAggregate.
enum class FloorForm { kOrderedAggregate, kOrderedInput };

// The SQL text of a floor statement ($1..$5 names, $6 head when bounded).
std::string FloorSql(std::string_view table, FloorForm form, bool bounded);

struct Timing {
  double seconds = 0;
  int64_t rows = 0;    // rows in the result table
  int64_t events = 0;  // events read (per-event replay)
};

// (c): TRUNCATE + the one statement, in one transaction. Events up to `head` (all: nullopt).
absl::StatusOr<Timing> RunSetBasedFloor(storage::PgConnection& conn, const BankNames& names,
                                        std::string_view table, FloorForm form,
                                        std::optional<int64_t> head);

// (d): replays the events up to `head` into `table` one transaction per event.
absl::StatusOr<Timing> RunPerEventReplay(storage::PgConnection& conn, const BankNames& names,
                                         std::string_view table, int64_t head);

// Rows of `a` not in `b` plus rows of `b` not in `a` (EXCEPT both ways; exact equality,
// also for double precision).
absl::StatusOr<int64_t> CountDifferences(storage::PgConnection& conn, std::string_view a,
                                         std::string_view b);

}  // namespace protean_admin::bench

#endif  // PROTEAN_ADMIN_BENCH_BASELINES_H_
