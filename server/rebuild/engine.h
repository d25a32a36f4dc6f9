#ifndef PROTEAN_ADMIN_SERVER_REBUILD_ENGINE_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_ENGINE_H_

// One rebuild of one projection, phase by phase (docs/design.md §3); used by rebuild.cc.
//
// Connections: the writer reaches the projection's database (the advisory lock, the
// truncation and every write; under `atomic` the whole replay is one transaction; for a
// cache-backed projection it reaches the event store, where the lock lives); the replay reads
// the event store on connections of its own. When the writer and the event store are the same
// database, the hand-off records are written in the replay's transaction; otherwise right
// after the commit (a crash between the two leaves the old positions, which is what Protean's
// own rebuild always does).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/model.h"
#include "server/rebuild/action_fold.h"
#include "server/rebuild/cache_store.h"
#include "server/rebuild/column_ops.h"
#include "server/rebuild/dispatcher.h"
#include "server/rebuild/plan.h"
#include "server/rebuild/rebuild.h"
#include "server/rebuild/sql_statements.h"
#include "storage/message_prefetcher.h"
#include "storage/message_reader.h"
#include "storage/pg_connection.h"
#include "storage/projection_store.h"
#include "storage/projection_table.h"

namespace protean_admin::rebuild {

// True when a rebuild writes Message DB positions for `projector`: it declares its subscriber
// and reads the event store (subscription_type "event_store").
bool HandsOff(const domain::Projector& projector);

// The result's hand_off_notes: one line per projector on Redis stream subscriptions, which
// gets no Message DB position ("Projector 'X' reads Redis streams (...): no Message DB
// position written; ...").
std::vector<std::string> StreamHandOffNotes(
    const std::vector<const domain::Projector*>& projectors);

class Engine {
 public:
  // `options.batch_size` must have been validated. The references must outlive the engine.
  Engine(const domain::Domain& domain, const domain::Projection& projection,
         const RebuildOptions& options)
      : domain_(domain), projection_(projection), options_(options) {}

  absl::StatusOr<RebuildResult> Run();

 private:
  // Phases 1 to 6: nothing is truncated unless every check before passed.
  absl::Status Prepare();
  absl::Status Connect();
  absl::Status LockAndGuard();
  absl::Status OpenCache(std::unique_ptr<RedisProjectionStore>& store);
  absl::Status OpenTable();
  absl::Status OpenTarget();
  absl::Status PlanHandlers();
  absl::StatusOr<bool> LowerSqlHandler(const domain::Handler& h);
  absl::Status OpenEventStore();
  absl::Status Snapshot();
  absl::Status Truncate();
  // Phase 7 (engine_replay.cc).
  absl::Status Replay();
  absl::StatusOr<std::unique_ptr<storage::MessageSource>> OpenReplaySource();
  absl::Status ReadBatches(storage::MessagePrefetcher& batches);
  absl::Status ApplyBatch(const std::vector<storage::MessageRef>& batch);
  absl::Status BeginEpoch();
  absl::Status EndEpoch();
  absl::Status ReplayEpoch();
  absl::Status CheckSkipped();
  void ReportCacheFull();
  // Phases 8 and 9, whatever the replay's outcome: commit or roll back, hand off, and turn
  // the outcomes that are results (a partial in-place rebuild, too many skips) into errors of
  // the result.
  absl::Status Finish(absl::Status replayed);
  absl::Status HandOff(storage::PgConnection& conn, bool set_local_search_path);
  void ReportSkips();

  // The shadow strategy (engine_shadow.cc, docs/design.md §4): the replay writes a shadow
  // table, committed at each epoch's end; then wait for the event server to stop, catch up
  // to the new head, swap the rows into the live table in one transaction, drop the shadow.
  bool shadow() const { return options_.strategy == Strategy::kShadow; }
  void SweepOrphanShadows();
  absl::Status OpenShadow();
  absl::Status CommitShadowEpoch(bool begin_next);
  absl::Status FinishShadow(absl::Status built);
  absl::Status WaitForServerStop();
  absl::Status CatchUp();
  absl::Status Swap();
  absl::Status LockLiveTable();
  void DropShadow();

  absl::Status Exec(std::string_view sql);
  absl::Status Rollback();
  void EmitPhase(Phase phase);
  void EmitProgress();
  void Warn(const std::string& message);
  int64_t ReportedTotal() const;
  absl::Status Cancelled() const;

  const domain::Domain& domain_;
  const domain::Projection& projection_;
  const RebuildOptions& options_;
  RebuildResult result_;
  RebuildPlan plan_;

  std::optional<storage::PgConnection> writer_;
  std::optional<storage::PgConnection> reader_;         // snapshot and hand-off
  std::optional<storage::PgConnection> replay_reader_;  // epoch replays (opened when needed)
  bool same_database_ = false;
  std::string lock_text_;
  bool locked_ = false;
  bool in_transaction_ = false;
  bool truncated_ = false;  // in place: the truncation is committed

  // kShadow: the live table (table_ is then the shadow) and the shadow's schema.
  std::optional<storage::TableInfo> live_table_;
  std::string shadow_schema_;
  bool shadow_created_ = false;
  int64_t waiting_since_unix_ms_ = 0;
  std::chrono::steady_clock::time_point server_stopped_at_;  // the guard went quiet

  std::optional<storage::TableInfo> table_;
  std::vector<ColumnSpec> specs_;
  ColumnsByHandler handler_columns_;
  LoweredHandlers lowered_;  // SQL-form handlers run as the action form, by handler
  LuaHandlers lua_;          // one Lua state for the job, its handlers compiled while planning
  std::unique_ptr<storage::ProjectionStore> store_;
  std::unique_ptr<SqlStatements> sql_;
  // Action rows held across batches; written at the end of an epoch (or when full).
  std::unique_ptr<RowCache> cache_;
  bool cache_full_reported_ = false;
  std::unique_ptr<Dispatcher> dispatcher_;

  std::vector<storage::CategoryHead> heads_;
  int64_t total_ = 0;
  bool total_exact_ = true;  // false: total_ is an estimate until the replay has ended
  int64_t processed_ = 0;
  std::vector<int64_t> cursor_;  // last consumed position per category

  // An epoch is the span of batches under the savepoint pa_epoch (docs/design.md §4): a
  // failing write rolls it back and replays its events from the store, isolated.
  std::vector<int64_t> epoch_cursor_;
  int64_t epoch_processed_ = 0;
  Tally epoch_tally_;
  int64_t sql_epoch_events_ = 0;  // events of the current SQL-form epoch
  bool too_many_skipped_ = false;
};

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_ENGINE_H_
