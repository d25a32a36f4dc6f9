#include "server/rebuild/engine.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/rebuild/projection_lock.h"
#include "spdlog/spdlog.h"
#include "storage/advisory_lock.h"
#include "storage/subscription_position.h"

namespace protean_admin::rebuild {

using storage::PgConnection;

absl::StatusOr<RebuildResult> Engine::Run() {
  const auto started = std::chrono::steady_clock::now();
  result_.projection_name = projection_.name;
  absl::Status status = Prepare();
  if (status.ok() && !plan_.projectors.empty()) {
    status = Replay();
    if (shadow()) {
      status = FinishShadow(status);
    } else {
      ReportSkips();
      status = Finish(status);
    }
  }
  if (shadow_created_) DropShadow();
  if (locked_ && writer_ && writer_->ok()) (void)storage::AdvisoryUnlock(*writer_, lock_text_);
  result_.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
  if (!status.ok()) {
    spdlog::error("Rebuild of projection {} failed: {}", projection_.name,
                  std::string(status.message()));
    return status;
  }
  EmitPhase(Phase::kDone);
  spdlog::info("Rebuilt projection {}: {} events dispatched, {} skipped in {} ms{}",
               projection_.name, result_.events_dispatched, result_.events_skipped,
               result_.duration_ms, result_.partial ? " (partial)" : "");
  return result_;
}

absl::Status Engine::Prepare() {
  EmitPhase(Phase::kPlanning);
  ASSIGN_OR_RETURN(plan_, PlanRebuild(domain_, projection_));
  if (plan_.projectors.empty()) {
    result_.errors.push_back(
        absl::StrCat("No projectors found for projection `", projection_.name, "`"));
    return absl::OkStatus();
  }
  result_.projectors_processed = static_cast<int>(plan_.projectors.size());
  result_.categories_processed = plan_.categories_processed;
  RETURN_IF_ERROR(Connect());
  EmitPhase(Phase::kGuard);
  RETURN_IF_ERROR(LockAndGuard());
  RETURN_IF_ERROR(OpenTarget());
  RETURN_IF_ERROR(OpenEventStore());
  EmitPhase(Phase::kSnapshot);
  RETURN_IF_ERROR(Snapshot());
  if (!shadow()) EmitPhase(Phase::kTruncate);
  return Truncate();
}

absl::Status Engine::Connect() {
  ASSIGN_OR_RETURN(PgConnection writer, ConnectNoted(plan_.database_uri, plan_.database_uri_note));
  writer_.emplace(std::move(writer));
  if (plan_.schema.empty() || projection_.cache_backed()) return absl::OkStatus();
  return Exec(absl::StrCat("SET search_path TO ", storage::QuoteIdent(plan_.schema), ", public"));
}

// The lock of what the rebuild writes (docs/design.md §7), then the event-server guard.
absl::Status Engine::LockAndGuard() {
  ASSIGN_OR_RETURN(lock_text_, ProjectionLockText(*writer_, domain_, projection_, plan_.schema));
  ASSIGN_OR_RETURN(const bool locked, storage::TryAdvisoryLock(*writer_, lock_text_));
  if (!locked) {
    // Possibly by a rebuild of another projection (or domain) writing the same table or keys.
    return absl::AbortedError(absl::StrCat("Projection '", projection_.name,
                                           "' is already being rebuilt: another rebuild holds "
                                           "the lock on what it writes (",
                                           lock_text_, ")"));
  }
  locked_ = true;
  // The shadow strategy builds while the event server runs and polls the guard later.
  if (shadow()) return absl::OkStatus();
  return options_.guard ? options_.guard(domain_, projection_) : absl::OkStatus();
}

// The table or cache the rows go to, and every handler checked against it.
absl::Status Engine::OpenTarget() {
  std::unique_ptr<RedisProjectionStore> cache_store;
  RETURN_IF_ERROR(projection_.cache_backed() ? OpenCache(cache_store) : OpenTable());
  if (!projection_.cache_backed()) SweepOrphanShadows();
  if (shadow()) RETURN_IF_ERROR(OpenShadow());
  for (const storage::ColumnInfo& c : table_->columns) specs_.push_back(ColumnSpec::From(c));
  const int key_index = table_->ColumnIndex(projection_.key);
  if ((plan_.has_action || plan_.has_lua) && key_index < 0) {
    return absl::FailedPreconditionError(absl::StrCat("Projection '", projection_.name, "': table ",
                                                      table_->qualified, " has no key column ",
                                                      projection_.key));
  }
  if (cache_store != nullptr) {
    store_ = std::move(cache_store);
  } else {
    store_ = std::make_unique<storage::PgProjectionStore>(&*writer_, *table_,
                                                          key_index < 0 ? 0 : key_index);
    sql_ = std::make_unique<SqlStatements>(*writer_);
  }
  RETURN_IF_ERROR(PlanHandlers());
  cache_ = std::make_unique<RowCache>(*store_, specs_);
  Dispatcher::Targets targets;
  targets.domain = &domain_;
  targets.plan = &plan_;
  targets.columns = &handler_columns_;
  targets.lua = &lua_;
  targets.specs = &specs_;
  targets.store = store_.get();
  targets.cache = cache_.get();
  targets.sql = sql_.get();
  targets.writer = &*writer_;
  targets.cache_backed = projection_.cache_backed();
  targets.sql_waves = options_.sql_set_based;
  targets.lowered = &lowered_;
  targets.key_column = projection_.key;
  targets.projection = projection_.name;
  dispatcher_ =
      std::make_unique<Dispatcher>(std::move(targets), [this](const std::string& m) { Warn(m); });
  return absl::OkStatus();
}

// A cache-backed projection: action and Lua forms only, and Redis reachable before anything
// is truncated.
absl::Status Engine::OpenCache(std::unique_ptr<RedisProjectionStore>& store) {
  for (const domain::Projector* p : plan_.projectors) {
    for (const domain::Handler& h : p->handlers) {
      if (h.form == domain::Handler::Form::kSql) {
        return HandlerError(*p, h, h.where,
                            absl::StrCat("the SQL form cannot write the cache-backed projection '",
                                         projection_.name, "'"));
      }
    }
  }
  ASSIGN_OR_RETURN(store, RedisProjectionStore::Open(domain_, projection_));
  table_ = store->table();
  return absl::OkStatus();
}

// The projection's table: created from the declared columns when missing, else checked
// against them.
absl::Status Engine::OpenTable() {
  ASSIGN_OR_RETURN(std::optional<storage::TableInfo> table,
                   storage::LoadTableInfo(*writer_, plan_.schema, projection_.table));
  if (table.has_value()) {
    table_ = std::move(*table);
    absl::Status matches = storage::CheckDeclaredColumns(*writer_, *table_, projection_.columns);
    if (matches.ok()) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("Projection '", projection_.name, "': ", matches.message()));
  }
  const std::string where =
      plan_.schema.empty() ? projection_.table : absl::StrCat(plan_.schema, ".", projection_.table);
  if (projection_.columns.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Projection '", projection_.name, "': table ", where,
                     " does not exist and no columns are declared to create it"));
  }
  absl::Status created = storage::CreateTable(*writer_, plan_.schema, projection_.table,
                                              projection_.columns, projection_.key);
  if (!created.ok()) {
    return absl::Status(created.code(),
                        absl::StrCat("Projection '", projection_.name, "': cannot create table ",
                                     where, ": ", storage::PgPrimaryMessage(created)));
  }
  spdlog::info("Created table {} for projection {}", where, projection_.name);
  ASSIGN_OR_RETURN(table_, storage::LoadTableInfo(*writer_, plan_.schema, projection_.table));
  if (!table_.has_value()) return absl::InternalError(absl::StrCat("table ", where, " vanished"));
  return absl::OkStatus();
}

// Checks every handler against the real table before anything is truncated: action-form
// columns exist, Lua-form handlers compile, SQL-form statements prepare (their parameters
// typed, sql_statements.h).
absl::Status Engine::PlanHandlers() {
  ASSIGN_OR_RETURN(handler_columns_, ResolveHandlerColumns(plan_, *table_));
  ASSIGN_OR_RETURN(lua_, CompileLuaHandlers(plan_, *table_, table_->ColumnIndex(projection_.key),
                                            domain_.source_file));
  plan_.has_sql = false;  // recounted: SQL-form handlers lowered to the action form are not
  for (const domain::Projector* p : plan_.projectors) {
    for (const domain::Handler& h : p->handlers) {
      for (const domain::SqlStatement& statement : h.sql) {
        absl::Status s = sql_->Plan(statement);
        if (!s.ok()) {
          if (absl::IsUnavailable(s)) return s;
          return HandlerError(*p, h, statement.where.empty() ? h.where : statement.where,
                              storage::PgPrimaryMessage(s));
        }
      }
      if (h.form != domain::Handler::Form::kSql) continue;
      ASSIGN_OR_RETURN(const bool lowered, LowerSqlHandler(h));
      plan_.has_sql |= !lowered;
      if (lowered || !options_.sql_set_based) continue;
      for (const domain::SqlStatement& statement : h.sql) {
        RETURN_IF_ERROR(sql_->PlanWave(statement, *table_, projection_.key).status());
      }
    }
  }
  return absl::OkStatus();
}

// A SQL-form handler that runs as the action form (sql_lowering.h): the plan then has an
// action-form handler.
absl::StatusOr<bool> Engine::LowerSqlHandler(const domain::Handler& h) {
  if (!options_.sql_in_memory || h.sql.size() != 1) return false;
  ASSIGN_OR_RETURN(std::optional<LoweredHandler> lowered,
                   sql_->PlanLowering(h, *table_, projection_.key));
  if (!lowered.has_value()) return false;
  LoweredHandler& stored = lowered_.emplace(&h, *std::move(lowered)).first->second;
  handler_columns_[&stored.action] = stored.columns;
  plan_.has_action = true;
  return true;
}

absl::Status Engine::OpenEventStore() {
  ASSIGN_OR_RETURN(PgConnection reader,
                   ConnectNoted(domain_.event_store.database_uri, domain_.event_store.uri_note));
  reader_.emplace(std::move(reader));
  RETURN_IF_ERROR(storage::PrepareEventStoreConnection(*reader_));
  constexpr char kIdentity[] =
      "SELECT current_database() || '|' || pg_postmaster_start_time()::text || '|' || "
      "coalesce(inet_server_port(), 0)::text";
  ASSIGN_OR_RETURN(storage::PgResult a, writer_->Exec(kIdentity));
  ASSIGN_OR_RETURN(storage::PgResult b, reader_->Exec(kIdentity));
  same_database_ = a.Get(0, 0) == b.Get(0, 0);
  return absl::OkStatus();
}

absl::Status Engine::Snapshot() {
  ASSIGN_OR_RETURN(heads_, storage::SnapshotHeads(*reader_, plan_.categories));
  for (const storage::CategoryHead& head : heads_) {
    total_ += head.count;
    total_exact_ &= head.count_exact;
  }
  return absl::OkStatus();
}

// Rows are deleted, not truncated: under `atomic` readers keep the old rows until the commit
// (docs/design.md §4).
absl::Status Engine::Truncate() {
  RETURN_IF_ERROR(Exec("BEGIN"));
  in_transaction_ = true;
  if (shadow()) {
    cache_->SetTableEmpty();  // created empty just now, and only this rebuild writes it
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(store_->Truncate());
  if (options_.strategy == Strategy::kAtomic && !projection_.cache_backed()) {
    cache_->SetTableEmpty();  // this transaction's alone until the commit
  }
  if (options_.strategy != Strategy::kInplace) return absl::OkStatus();
  in_transaction_ = false;
  RETURN_IF_ERROR(Exec("COMMIT"));
  truncated_ = true;
  return absl::OkStatus();
}

absl::Status Engine::Finish(absl::Status status) {
  const bool atomic = options_.strategy == Strategy::kAtomic;
  if (status.ok()) status = Cancelled();
  bool hand_off_done = false;
  if (status.ok() && atomic && same_database_) {
    status = HandOff(*writer_, /*set_local_search_path=*/true);
    hand_off_done = true;
  }
  if (status.ok() && atomic) {
    EmitPhase(Phase::kCommit);
    in_transaction_ = false;
    status = Exec("COMMIT");
  }
  if (!status.ok()) {
    if (absl::Status rolled_back = Rollback(); !rolled_back.ok()) {
      spdlog::error("Rebuild of {}: rollback failed: {}", projection_.name,
                    std::string(rolled_back.message()));
    }
    if (too_many_skipped_ && atomic) {
      result_.errors.push_back(
          absl::StrCat(status.message(), "; rolled back: the projection is as it was"));
      return absl::OkStatus();
    }
    if (!truncated_) return status;
    // In place, earlier batches are committed: the projection is partial, also when the
    // rebuild was cancelled (the caller sees that on its token). No hand-off for it.
    result_.partial = true;
    result_.errors.push_back(
        absl::IsCancelled(status)
            ? absl::StrCat(status.message(), " after ", processed_, " of ", ReportedTotal(),
                           " events: the in-place rebuild left the projection partial")
            : std::string(status.message()));
    return absl::OkStatus();
  }
  if (hand_off_done) return absl::OkStatus();
  if (absl::Status s = HandOff(*reader_, /*set_local_search_path=*/false); !s.ok()) {
    result_.errors.push_back(
        absl::StrCat("Hand-off of subscription positions failed after the rebuild was committed: ",
                     std::string(s.message())));
  }
  return absl::OkStatus();
}

bool HandsOff(const domain::Projector& projector) {
  return projector.subscriber.has_value() &&
         projector.subscription_type == domain::SubscriptionType::kEventStore;
}

std::vector<std::string> StreamHandOffNotes(
    const std::vector<const domain::Projector*>& projectors) {
  std::vector<std::string> notes;
  for (const domain::Projector* p : projectors) {
    if (p->subscription_type != domain::SubscriptionType::kStream) continue;
    notes.push_back(absl::StrCat("Projector '", p->name,
                                 "' reads Redis streams (subscription_type = \"stream\"): no "
                                 "Message DB position written; its consumer group resumes "
                                 "where it stopped in Redis"));
  }
  return notes;
}

// Positions at the snapshot heads for every projector declaring its subscriber and reading
// the event store (docs/design.md §8); stream-subscription projectors get a note instead.
absl::Status Engine::HandOff(PgConnection& conn, bool set_local_search_path) {
  if (!options_.hand_off) return absl::OkStatus();
  result_.hand_off_notes = StreamHandOffNotes(plan_.projectors);
  const bool any = std::any_of(plan_.projectors.begin(), plan_.projectors.end(),
                               [](const domain::Projector* p) { return HandsOff(*p); });
  if (!any) return absl::OkStatus();
  EmitPhase(Phase::kHandOff);
  if (set_local_search_path) {
    RETURN_IF_ERROR(conn.Exec("SET LOCAL search_path TO message_store, public").status());
  }
  for (const domain::Projector* p : plan_.projectors) {
    if (!HandsOff(*p)) continue;
    for (const std::string& category : p->categories) {
      int64_t head = 0;
      for (const storage::CategoryHead& h : heads_) {
        if (h.category == category) head = h.head;
      }
      // An empty category hands off position 0: the server then reads it from the start,
      // which is exactly the events appended after the snapshot.
      RETURN_IF_ERROR(storage::WriteReadPosition(conn, *p->subscriber, category, head));
    }
  }
  return absl::OkStatus();
}

// The counts and skip reasons into the result, and a loud warning for each projector whose
// every handled event failed.
void Engine::ReportSkips() {
  const Tally& tally = dispatcher_->tally();
  result_.events_dispatched = tally.dispatched;
  result_.events_skipped = tally.skipped;
  result_.sql_set_based_events = tally.set_based;
  result_.sql_in_memory_events = tally.in_memory_sql;
  result_.skip_reasons = tally.skips.Reasons();
  std::vector<std::string> names;
  for (const domain::Projector* p : plan_.projectors) names.push_back(p->name);
  for (std::string& warning : tally.skips.AllFailedWarnings(names)) {
    spdlog::error("Rebuild of {}: {}", projection_.name, warning);
    Warn(warning);
    result_.warnings.push_back(std::move(warning));
  }
}

absl::Status Engine::Exec(std::string_view sql) { return writer_->Exec(sql).status(); }

absl::Status Engine::Rollback() {
  if (!in_transaction_ || !writer_ || !writer_->ok()) return absl::OkStatus();
  in_transaction_ = false;
  return Exec("ROLLBACK");
}

absl::Status Engine::Cancelled() const {
  if (options_.cancel == nullptr || !options_.cancel->cancelled()) return absl::OkStatus();
  return absl::CancelledError(
      absl::StrCat("Rebuild of projection '", projection_.name, "' was cancelled"));
}

int64_t Engine::ReportedTotal() const {
  // An estimate never reads as done (or past done) before the replay has ended.
  return total_exact_ ? total_ : std::max(total_, processed_ + 1);
}

void Engine::EmitPhase(Phase phase) {
  if (!options_.on_progress) return;
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::kPhase;
  e.projection = projection_.name;
  e.phase = phase;
  e.processed = processed_;
  e.total = ReportedTotal();
  e.skipped = dispatcher_ ? dispatcher_->tally().skipped : 0;
  if (phase == Phase::kWaiting) e.since_unix_ms = waiting_since_unix_ms_;
  options_.on_progress(e);
}

void Engine::EmitProgress() {
  if (!options_.on_progress) return;
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::kProgress;
  e.projection = projection_.name;
  e.phase = Phase::kReplay;
  e.projector = dispatcher_->last_projector();
  e.processed = processed_;
  e.total = ReportedTotal();
  e.skipped = dispatcher_->tally().skipped;
  options_.on_progress(e);
}

void Engine::Warn(const std::string& message) {
  if (!options_.on_progress) return;
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::kWarning;
  e.projection = projection_.name;
  e.phase = Phase::kReplay;
  e.message = message;
  options_.on_progress(e);
}

}  // namespace protean_admin::rebuild
