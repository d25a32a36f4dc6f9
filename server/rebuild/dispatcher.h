#ifndef PROTEAN_ADMIN_SERVER_REBUILD_DISPATCHER_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_DISPATCHER_H_

// Applies batches of stored messages to a projection's handlers (docs/design.md §3 phase 7,
// §4, §5): each message's type resolved (and its payload upcast), the message dispatched to
// every listening projector in declaration order, the handlers' values read from the payload,
// action-form items and Lua-form calls folded into the row cache and SQL-form statements sent
// in pipelines, in the order of the events. Counts what was dispatched and skipped.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "domain/model.h"
#include "server/rebuild/action_fold.h"
#include "server/rebuild/event_payload.h"
#include "server/rebuild/plan.h"
#include "server/rebuild/skip_log.h"
#include "server/rebuild/sql_lowering.h"
#include "server/rebuild/sql_statements.h"
#include "storage/message_reader.h"
#include "storage/pg_connection.h"
#include "storage/projection_store.h"

namespace protean_admin::rebuild {

// What the dispatcher counted; an epoch that is replayed restores the copy taken at its start.
struct Tally {
  int64_t dispatched = 0;
  int64_t skipped = 0;
  int64_t set_based = 0;      // SQL-form events whose statements ran in set-based waves
  int64_t in_memory_sql = 0;  // SQL-form events run as the action form (sql_lowering.h)
  SkipLog skips;
};

class Dispatcher {
 public:
  struct Targets {
    const domain::Domain* domain = nullptr;
    const RebuildPlan* plan = nullptr;
    const ColumnsByHandler* columns = nullptr;
    const LuaHandlers* lua = nullptr;  // the compiled Lua-form handlers
    const std::vector<ColumnSpec>* specs = nullptr;
    storage::ProjectionStore* store = nullptr;
    RowCache* cache = nullptr;
    SqlStatements* sql = nullptr;             // null for a cache-backed projection
    storage::PgConnection* writer = nullptr;  // the projection's transaction
    bool cache_backed = false;
    bool sql_waves = true;  // recognized SQL-form statements run set-based (sql_waves.h)
    const LoweredHandlers* lowered = nullptr;  // SQL-form handlers run as the action form
    std::string key_column;
    std::string projection;  // its name, for logs
  };

  // `warn` is told every warning (once per epoch; they are logged here).
  Dispatcher(Targets targets, std::function<void(const std::string&)> warn);

  // Applies `batch`. Normally action and Lua items are folded into the row cache (written
  // when the caller flushes it) and SQL statements run without savepoints; `isolated` (an
  // epoch being replayed) writes every in-memory segment through and isolates each failing
  // event in a savepoint. Errors: a fatal one (connection lost, cancel, a cache-backed write), or
  // one that the caller cures by replaying the epoch isolated (then fallback_requested()).
  absl::Status Apply(const std::vector<storage::MessageRef>& batch, bool isolated);

  bool fallback_requested() const { return fallback_requested_; }
  void clear_fallback() { fallback_requested_ = false; }
  // An epoch begins: its warnings are remembered so that its replay does not repeat them.
  void BeginEpoch() { epoch_warnings_.clear(); }
  Tally& tally() { return tally_; }
  // The projector of the latest event dispatched (for progress).
  const std::string& last_projector() const { return last_projector_; }
  // True for errors nothing but a new rebuild can cure (the transaction cannot go on, or a
  // cache-backed projection's writes, which cannot be rolled back, could be applied twice).
  bool Fatal(const absl::Status& status) const;

 private:
  struct SqlItem {
    absl::Status eval_status;  // not OK: the event fails without running anything
    std::vector<const domain::SqlStatement*> statements;
    std::vector<std::vector<Datum>> values;          // per statement, per parameter
    std::vector<storage::PipelineCommand> commands;  // bound when run
    std::vector<std::vector<uint32_t>> types;        // per command: its parameters' types
    bool wave = false;  // every statement runs set-based, on a canonical key (sql_waves.h)
  };
  struct LuaItem {
    absl::Status eval_status;  // not OK: the event fails without running the handler
    int id = -1;               // LuaRuntime::Call's
    int version = 0;           // of the stored message
    bool upcast = false;       // the payload is `upcast_json`, not the message's own
    std::string upcast_json;
  };
  struct WorkItem {
    int message = 0;
    int projector = 0;
    domain::Handler::Form form = domain::Handler::Form::kAction;
    ActionItem act;
    SqlItem sql;
    LuaItem lua;
    // Folded on the row cache (action and Lua forms), or run as SQL.
    bool in_memory() const { return form != domain::Handler::Form::kSql; }
    const absl::Status& eval_status() const;
  };
  struct TypeEntry {
    domain::Resolution resolution;
    std::vector<const domain::Handler*> handlers;  // per projector of the plan
    std::vector<int> lua_ids;                      // per projector: LuaRuntime id, or -1
    std::vector<const LoweredHandler*> lowered;    // per projector: the handler's lowering
  };

  const TypeEntry& TypeFor(std::string_view type);
  void Collect(const storage::MessageRef& message, int index, const TypeEntry& type);
  void SkipUnresolvable(const storage::MessageRef& message, int listeners);
  absl::StatusOr<Datum> EvalValue(const domain::Value& value);
  void EvalAction(const domain::Handler& handler, ActionItem& item);
  void EvalSql(const domain::Handler& handler, SqlItem& item);
  void EvalLua(const TypeEntry& type, int projector, bool& loaded, absl::Status& load_status,
               const storage::MessageRef& message, LuaItem& item);
  void Record(const WorkItem& item, const absl::Status& status,
              const std::vector<storage::MessageRef>& batch);
  void Warn(const std::string& message, bool error);
  absl::Status RunMemorySegment(size_t begin, size_t end,
                                const std::vector<storage::MessageRef>& batch, bool isolated);
  // Folds items [begin, end) into `cache` in order, one status per item into `statuses`. An
  // error is the cache's (a failing fetch), not an event's.
  absl::Status Fold(RowCache& cache, size_t begin, size_t end,
                    const std::vector<storage::MessageRef>& batch,
                    std::vector<absl::Status>& statuses);
  absl::StatusOr<absl::Status> CallLua(RowCache& cache, const WorkItem& item,
                                       const storage::MessageRef& message);
  absl::Status WriteThrough(size_t begin, size_t end,
                            const std::vector<storage::MessageRef>& batch);
  absl::Status RunSqlSegment(size_t begin, size_t end,
                             const std::vector<storage::MessageRef>& batch, bool isolated);
  absl::Status BindSql(SqlItem& item);
  // The commands running `pending` (bound, in event order) in one pipeline: runs of wave items
  // as set-based waves, the others one event at a time, in order.
  absl::StatusOr<std::vector<storage::PipelineCommand>> WaveCommands(
      const std::vector<size_t>& pending);
  absl::Status RunPendingIsolated(std::vector<size_t>& pending,
                                  const std::vector<storage::MessageRef>& batch);

  Targets t_;
  std::function<void(const std::string&)> warn_;
  domain::Parameter default_key_;  // ":<key column>", for handlers without `key`
  absl::flat_hash_map<std::string, TypeEntry> types_;  // heterogeneous lookup: no copy
  EventPayload payload_;
  std::vector<WorkItem> items_;
  std::vector<LuaRowChange> lua_changes_;  // reused by every Lua call
  Tally tally_;
  std::string last_projector_;
  bool fallback_requested_ = false;
  bool isolated_ = false;  // the batch being applied is part of an epoch replay
  // Hashes of the warnings given since the epoch began (bounded).
  absl::flat_hash_set<size_t> epoch_warnings_;
};

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_DISPATCHER_H_
