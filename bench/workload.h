#ifndef PROTEAN_ADMIN_BENCH_WORKLOAD_H_
#define PROTEAN_ADMIN_BENCH_WORKLOAD_H_

// The reference workload of bench/README.md: a Protean-shaped bank history
// (docs/protean-compatibility.md §1-§3) written straight into message_store.messages with COPY.
//
//   - U users: `<Camel>.Registered.v1` {user_id, email, name} in "<norm>::user-<uuid>";
//   - T transactions: `<Camel>.Transacted.v2` {user_id, amount, currency}, a fraction of them
//     stored at v1 {user_id, amt}, each in its own stream "<norm>::transaction-<uuid>";
//     a transaction always comes after its user's registration;
//   - P `<Camel>.ProfileUpdated.v1` {user_id, new_name} in the user streams (no projector
//     handles them);
//   - X events of a type the domain no longer knows (`<Camel>.LegacyBonusGranted.v1`
//     {user_id, amt}) in the transaction category: a rebuild must skip them.
// Amounts are signed with two decimals (e.g. -12.34) so the order of float additions matters.
// Metadata is Protean's: headers, envelope (checksum = SHA-256 of the payload with sorted
// keys and compact separators), domain, event_store, extensions. Positions are gapless per
// stream; global positions continue after whatever the table already holds.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace protean_admin::bench {

struct WorkloadOptions {
  std::string domain_name = "Bank";
  std::string user_category = "user";                // stream_category of User
  std::string transaction_category = "transaction";  // stream_category of Transaction
  int64_t users = 1000;
  int64_t transactions = 9000;
  int64_t profile_updates = 100;
  int64_t unknown_events = 10;
  double v1_fraction = 0.10;
  uint64_t seed = 1;
  int connections = 2;  // parallel COPY streams
};

// Sizes for about `events` events: users = events/10, transactions = events - users,
// profile updates = events/100, unknown events = min(10, events/100) (the reference run:
// 1,000,000 -> 100,000 users, 900,000 transactions, 10,000 profile updates, 10 unknown).
WorkloadOptions SizesForEvents(int64_t events);

struct WorkloadSummary {
  int64_t events = 0;
  int64_t users = 0;
  int64_t transactions = 0;
  int64_t transactions_v1 = 0;
  int64_t profile_updates = 0;
  int64_t unknown_events = 0;
  int64_t first_global_position = 0;
  int64_t last_global_position = 0;
  double seconds = 0;
};

// Names the workload uses, derived from the domain name as Protean derives them.
struct BankNames {
  std::string user_category;         // "bank::user"
  std::string transaction_category;  // "bank::transaction"
  std::string registered;            // "Bank.Registered.v1"
  std::string transacted_v1;         // "Bank.Transacted.v1"
  std::string transacted_v2;         // "Bank.Transacted.v2"
  std::string profile_updated;       // "Bank.ProfileUpdated.v1"
  std::string unknown;               // "Bank.LegacyBonusGranted.v1"
};
BankNames NamesFor(const WorkloadOptions& options);

// docs/protean-compatibility.md §2 (ASCII only; the workload's names are ASCII).
std::string NormalizedName(std::string_view name);
std::string CamelCaseName(std::string_view name);

// Writes the history into the Message DB at `conninfo` (schema already created).
absl::StatusOr<WorkloadSummary> GenerateHistory(std::string_view conninfo,
                                                const WorkloadOptions& options);

}  // namespace protean_admin::bench

#endif  // PROTEAN_ADMIN_BENCH_WORKLOAD_H_
