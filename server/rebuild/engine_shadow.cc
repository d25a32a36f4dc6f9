// The shadow strategy (docs/design.md §4): with the event server running, the projection is
// replayed into a shadow table up to the first snapshot; then the engine waits for the server
// to stop, catches the shadow up to the new head, and swaps its rows into the live table in
// one short transaction with the hand-off. Anything that ends the rebuild before that commit
// drops the shadow and leaves the live table as it was.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/rebuild/engine.h"
#include "server/rebuild/shadow_sql.h"
#include "spdlog/spdlog.h"
#include "storage/shadow_table.h"

namespace protean_admin::rebuild {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Shadows whose owner's lock is free were left by a rebuild that died (a crashed or killed
// daemon, a lost connection): removed by any rebuild of a table of their database, without
// taking their owner's lock (storage::DropShadowSchemaIfUnowned), so that a rebuild of
// another table starting meanwhile is never refused. This rebuild's own table's orphan is
// dropped waiting for its locks; another's is left alone when a session holds a lock on it
// for kOrphanLockTimeoutMs. A failure here is only logged; the orphan then waits for the next
// rebuild.
void Engine::SweepOrphanShadows() {
  constexpr int kOrphanLockTimeoutMs = 200;
  absl::StatusOr<std::vector<storage::ShadowSchema>> shadows = storage::ListShadowSchemas(*writer_);
  if (!shadows.ok()) {
    spdlog::warn("Rebuild of {}: cannot list orphan shadow schemas: {}", projection_.name,
                 std::string(shadows.status().message()));
    return;
  }
  for (const storage::ShadowSchema& s : *shadows) {
    if (s.lock_text.rfind("protean-admin:", 0) != 0) continue;  // not one of ours
    const bool own = s.lock_text == lock_text_;                 // this rebuild holds it
    absl::StatusOr<bool> dropped =
        storage::DropShadowSchemaIfUnowned(*writer_, s, own ? 0 : kOrphanLockTimeoutMs);
    if (!dropped.ok()) {
      spdlog::warn("Rebuild of {}: cannot drop the orphan shadow schema {}: {}", projection_.name,
                   s.schema, std::string(dropped.status().message()));
      continue;
    }
    if (!*dropped) continue;  // its rebuild is running
    const std::string message =
        absl::StrCat("removed the orphan shadow schema ", s.schema,
                     " left by an interrupted shadow rebuild (", s.lock_text, ")");
    spdlog::warn("Rebuild of {}: {}", projection_.name, message);
    Warn(message);
  }
}

// Refuses SQL-form statements that schema-qualify the live table, then creates the shadow and
// puts its schema first on the writer's search_path: the statements are prepared against it.
absl::Status Engine::OpenShadow() {
  for (const domain::Projector* p : plan_.projectors) {
    for (const domain::Handler& h : p->handlers) {
      for (const domain::SqlStatement& statement : h.sql) {
        if (!NamesTableQualified(statement.text, table_->schema, table_->table)) continue;
        return HandlerError(
            *p, h, statement.where.empty() ? h.where : statement.where,
            absl::StrCat("the statement names the live table schema-qualified (", table_->qualified,
                         "), which the shadow strategy cannot redirect to its shadow table; name "
                         "it unqualified, or rebuild with --strategy=atomic"));
      }
    }
  }
  ASSIGN_OR_RETURN(shadow_schema_, storage::ShadowSchemaName(*writer_, *table_));
  RETURN_IF_ERROR(storage::CreateShadow(*writer_, *table_, shadow_schema_, lock_text_));
  shadow_created_ = true;
  RETURN_IF_ERROR(writer_
                      ->ExecParams("SELECT set_config('search_path', quote_ident($1) || ', ' || "
                                   "current_setting('search_path'), false)",
                                   {shadow_schema_})
                      .status());
  live_table_ = std::move(table_);
  ASSIGN_OR_RETURN(table_, storage::LoadTableInfo(*writer_, shadow_schema_, live_table_->table));
  if (!table_.has_value()) {
    return absl::InternalError(
        absl::StrCat("shadow table of ", live_table_->qualified, " vanished"));
  }
  spdlog::info("Rebuild of {}: building the shadow {} of {}", projection_.name, table_->qualified,
               live_table_->qualified);
  return absl::OkStatus();
}

// Commits the shadow's rows written so far (readers never see the shadow; committing bounds
// the transaction), and opens the next transaction when asked.
absl::Status Engine::CommitShadowEpoch(bool begin_next) {
  in_transaction_ = false;
  RETURN_IF_ERROR(Exec("COMMIT"));
  if (!begin_next) return absl::OkStatus();
  RETURN_IF_ERROR(Exec("BEGIN"));
  in_transaction_ = true;
  return absl::OkStatus();
}

// After the build: wait, catch up, swap; on any failure the live table is untouched (the
// caller drops the shadow). Too many skips are a result, as under atomic.
absl::Status Engine::FinishShadow(absl::Status status) {
  if (status.ok()) status = WaitForServerStop();
  if (status.ok()) status = CatchUp();
  ReportSkips();
  if (status.ok()) status = Swap();
  if (!status.ok()) {
    if (absl::Status rolled_back = Rollback(); !rolled_back.ok()) {
      spdlog::error("Rebuild of {}: rollback failed: {}", projection_.name,
                    std::string(rolled_back.message()));
    }
    if (!too_many_skipped_) return status;
    result_.errors.push_back(
        absl::StrCat(status.message(), "; the shadow was dropped: the projection is as it was"));
    return absl::OkStatus();
  }
  if (same_database_) return absl::OkStatus();
  if (absl::Status s = HandOff(*reader_, /*set_local_search_path=*/false); !s.ok()) {
    result_.errors.push_back(
        absl::StrCat("Hand-off of subscription positions failed after the swap was committed: ",
                     std::string(s.message())));
  }
  return absl::OkStatus();
}

// Polls the guard until it says the event server is stopped; honours cancel and the timeout.
absl::Status Engine::WaitForServerStop() {
  waiting_since_unix_ms_ = NowUnixMs();
  EmitPhase(Phase::kWaiting);
  spdlog::info(
      "Rebuild of {}: shadow built up to the snapshot; waiting for the event server to "
      "stop",
      projection_.name);
  const Clock::time_point started = Clock::now();
  Clock::time_point next_probe = started;
  absl::Status last;
  while (true) {
    RETURN_IF_ERROR(Cancelled());
    const Clock::time_point now = Clock::now();
    if (now >= next_probe) {
      absl::Status probed =
          options_.guard ? options_.guard(domain_, projection_) : absl::OkStatus();
      if (probed.ok()) break;
      if (probed.message() != last.message()) {
        spdlog::info("Rebuild of {}: still waiting: {}", projection_.name,
                     std::string(probed.message()));
      }
      last = std::move(probed);
      next_probe = now + options_.wait_poll_interval;
    }
    if (options_.wait_timeout.count() > 0 && now - started >= options_.wait_timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat("Projection '", projection_.name, "': the event server did not stop within ",
                       options_.wait_timeout.count() / 1000.0, " s of waiting (", last.message(),
                       "); the shadow was dropped: the projection is as it was"));
    }
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(50), options_.wait_poll_interval));
  }
  server_stopped_at_ = Clock::now();
  spdlog::info("Rebuild of {}: the event server is stopped after {} ms of waiting",
               projection_.name, NowUnixMs() - waiting_since_unix_ms_);
  return absl::OkStatus();
}

// Replays the events written since the first snapshot (H1) up to a new one (H2) into the
// shadow; the hand-off then writes H2.
absl::Status Engine::CatchUp() {
  EmitPhase(Phase::kCatchUp);
  const std::vector<storage::CategoryHead> first = heads_;
  ASSIGN_OR_RETURN(heads_, storage::SnapshotHeads(*reader_, plan_.categories));
  for (size_t c = 0; c < heads_.size(); ++c) {
    total_ += std::max<int64_t>(0, heads_[c].count - first[c].count);
    total_exact_ &= heads_[c].count_exact;
  }
  RETURN_IF_ERROR(Exec("BEGIN"));
  in_transaction_ = true;
  RETURN_IF_ERROR(BeginEpoch());
  std::vector<storage::CategoryReader> readers;
  const storage::ReadColumns columns{plan_.reads_time, plan_.reads_id};
  for (size_t c = 0; c < heads_.size(); ++c) {
    readers.emplace_back(&*reader_, heads_[c].category, heads_[c].head, options_.batch_size,
                         columns, first[c].head);
  }
  {
    storage::MessagePrefetcher batches(storage::MessageMerger(std::move(readers)),
                                       options_.batch_size);
    RETURN_IF_ERROR(ReadBatches(batches));
  }
  total_ = processed_;
  total_exact_ = true;
  EmitProgress();
  RETURN_IF_ERROR(EndEpoch());
  return CommitShadowEpoch(/*begin_next=*/false);
}

// One transaction: the live rows replaced by the shadow's, and the hand-off when the event
// store is the same database. A cancel is honoured up to its start.
absl::Status Engine::Swap() {
  RETURN_IF_ERROR(Cancelled());
  EmitPhase(Phase::kSwap);
  const Clock::time_point started = Clock::now();
  RETURN_IF_ERROR(Exec("BEGIN"));
  in_transaction_ = true;
  RETURN_IF_ERROR(LockLiveTable());
  ASSIGN_OR_RETURN(const int64_t rows, storage::ReplaceRowsFromShadow(*writer_, *live_table_,
                                                                      *table_, projection_.key));
  if (same_database_) RETURN_IF_ERROR(HandOff(*writer_, /*set_local_search_path=*/true));
  EmitPhase(Phase::kCommit);
  in_transaction_ = false;
  RETURN_IF_ERROR(Exec("COMMIT"));
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  // The server-stopped window: from the guard going quiet to the swap's commit.
  spdlog::info(
      "Rebuild of {}: swapped the shadow into {} ({} rows written, the others equal) in {} ms; "
      "the event server has "
      "been stopped for {} ms (catch-up and swap)",
      projection_.name, live_table_->qualified, rows, ms(Clock::now() - started),
      ms(Clock::now() - server_stopped_at_));
  return absl::OkStatus();
}

// Inside the swap's transaction: the live table's ROW EXCLUSIVE lock (what the DELETE and
// INSERT take; plain readers go on), waited for in slices of kSliceMs so that a cancel is
// honoured while another session holds a conflicting lock. The session's lock_timeout (e.g.
// `options=-c lock_timeout=...` in the database URI) bounds the whole wait and is in force
// again for the statements after it.
absl::Status Engine::LockLiveTable() {
  constexpr int kSliceMs = 250;
  ASSIGN_OR_RETURN(storage::PgResult setting,
                   writer_->Exec("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'"));
  const std::string timeout_ms(setting.Get(0, 0));
  const int64_t budget_ms = std::strtoll(timeout_ms.c_str(), nullptr, 10);
  const Clock::time_point started = Clock::now();
  while (true) {
    RETURN_IF_ERROR(Cancelled());
    RETURN_IF_ERROR(Exec(
        absl::StrCat("SAVEPOINT protean_admin_swap_lock; SET LOCAL lock_timeout = ", kSliceMs)));
    absl::Status locked =
        Exec(absl::StrCat("LOCK TABLE ", live_table_->qualified, " IN ROW EXCLUSIVE MODE"));
    if (locked.ok()) {
      return Exec(absl::StrCat(
          "RELEASE SAVEPOINT protean_admin_swap_lock; SET LOCAL lock_timeout = ", budget_ms));
    }
    if (storage::SqlState(locked) != "55P03") return locked;
    RETURN_IF_ERROR(Exec("ROLLBACK TO SAVEPOINT protean_admin_swap_lock"));
    const int64_t waited_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (budget_ms > 0 && waited_ms >= budget_ms) {
      return absl::DeadlineExceededError(absl::StrCat(
          "Projection '", projection_.name, "': the swap could not lock ", live_table_->qualified,
          " within the session's lock_timeout (", budget_ms,
          " ms): another session holds a conflicting lock on it; the shadow was dropped: the "
          "projection is as it was"));
    }
  }
}

// Whatever happened: the shadow is not needed any more (swapped, or abandoned). When the
// connection is gone the orphan is removed by the next rebuild (SweepOrphanShadows).
void Engine::DropShadow() {
  shadow_created_ = false;
  if (!writer_ || !writer_->ok()) return;
  if (absl::Status s = Rollback(); !s.ok()) {
    spdlog::warn("Rebuild of {}: rollback before dropping the shadow failed: {}", projection_.name,
                 std::string(s.message()));
  }
  if (absl::Status s = storage::DropShadowSchema(*writer_, shadow_schema_); !s.ok()) {
    spdlog::error("Rebuild of {}: cannot drop the shadow schema {} (the next rebuild will): {}",
                  projection_.name, shadow_schema_, std::string(s.message()));
  }
}

}  // namespace protean_admin::rebuild
