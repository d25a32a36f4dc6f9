// The rebuild engine (DESIGN.md §1): plan -> lock -> guard -> table -> snapshot -> truncate ->
// replay -> hand-off -> commit -> result.
//
// Connections: one to the projection database (advisory lock, truncation, writes; the whole
// replay runs in one transaction under `atomic`), one to the event store (head snapshot and
// keyset pages). When both reach the same database, the hand-off records are written in the
// replay's transaction; otherwise they are written on the event store right after the commit
// (a crash between the two leaves the old positions: the server would then re-apply events
// after its old checkpoint, as Protean's own rebuild always does).

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "server/rebuild/action_fold.h"
#include "server/rebuild/cache_store.h"
#include "server/rebuild/column_ops.h"
#include "server/rebuild/event_payload.h"
#include "server/rebuild/projection_lock.h"
#include "server/rebuild/rebuild.h"
#include "server/rebuild/skip_log.h"
#include "server/rebuild/sql_statements.h"
#include "spdlog/spdlog.h"
#include "storage/advisory_lock.h"
#include "storage/message_prefetcher.h"
#include "storage/message_reader.h"
#include "storage/pg_connection.h"
#include "storage/pg_pipeline.h"
#include "storage/projection_store.h"
#include "storage/projection_table.h"
#include "storage/subscription_position.h"

namespace protean_admin::rebuild {
namespace {

using storage::PgConnection;

// After this many failing SQL-form events in one segment, the rest of the segment runs one
// event at a time (each in its own savepoint) instead of re-sending the pipeline.
constexpr int kPipelineRetries = 4;

struct SqlItem {
  absl::Status eval_status;
  std::vector<const domain::SqlStatement*> statements;
  std::vector<std::vector<Datum>> values;          // per statement, per parameter
  std::vector<storage::PipelineCommand> commands;  // bound (RunSqlSegment)
};

struct WorkItem {
  int message = 0;
  int projector = 0;
  const domain::Handler* handler = nullptr;
  bool action = true;
  ActionItem act;
  SqlItem sql;
};

struct TypeEntry {
  domain::Resolution resolution;
  std::vector<const domain::Handler*> handlers;  // per projector of the projection
};

struct HandlerColumns {
  std::vector<int> set, insert, increment;
};

bool UsesAttribute(const domain::Parameter& p, domain::MessageAttribute a) {
  return p.attribute && *p.attribute == a;
}

template <typename F>
void ForEachParameter(const domain::Handler& h, F&& f) {
  for (const domain::SqlStatement& s : h.sql) {
    for (const domain::Parameter& p : s.parameters) f(p);
  }
  if (h.key.parameter) f(*h.key.parameter);
  for (const auto* list : {&h.set, &h.insert, &h.increment}) {
    for (const auto& [column, value] : *list) {
      if (value.parameter) f(*value.parameter);
    }
  }
}

class Engine {
 public:
  Engine(const domain::Domain& domain, const domain::Projection& projection,
         const RebuildOptions& options)
      : domain_(domain), projection_(projection), options_(options) {}

  absl::StatusOr<RebuildResult> Run();

 private:
  absl::Status Prepare();
  absl::Status OpenCache(std::unique_ptr<RedisProjectionStore>& store);
  absl::Status OpenTable(const std::string& schema);
  absl::Status PlanHandlers();
  absl::Status ResolveColumns(const domain::Projector& p, const domain::Handler& h);
  absl::Status HandlerError(const domain::Projector& projector, const domain::Handler& handler,
                            const std::string& where, const std::string& message) const;
  absl::Status Replay();
  absl::Status ProcessBatch(const std::vector<storage::MessageRef>& batch);
  absl::Status RunActionSegment(size_t begin, size_t end,
                                const std::vector<storage::MessageRef>& batch);
  absl::Status RunSqlSegment(size_t begin, size_t end,
                             const std::vector<storage::MessageRef>& batch);
  absl::Status BindSql(SqlItem& item);
  void EvalAction(const domain::Handler& handler, ActionItem& item);
  void EvalSql(const domain::Handler& handler, SqlItem& item);
  absl::StatusOr<Datum> EvalValue(const domain::Value& value);
  absl::Status HandOff(PgConnection& conn, bool set_local_search_path);
  const TypeEntry& TypeFor(std::string_view type);
  void Record(const WorkItem& item, const absl::Status& status,
              const std::vector<storage::MessageRef>& batch);
  absl::Status Exec(std::string_view sql);
  bool Fatal(const absl::Status& status) const;
  void EmitPhase(Phase phase);
  void EmitProgress();
  int64_t ReportedTotal() const;
  void Warn(const std::string& message);
  // False for a message already given in this epoch, when the epoch is being replayed.
  bool FirstInEpoch(const std::string& message);
  absl::Status Rollback();
  void ReportSkips();
  absl::Status CheckSkipped();
  absl::Status BeginEpoch();
  absl::Status EndEpoch(bool flush);
  absl::Status ReplayEpoch();
  absl::Status ReadBatches(storage::MessagePrefetcher& batches, bool main);

  const domain::Domain& domain_;
  const domain::Projection& projection_;
  const RebuildOptions& options_;
  RebuildResult result_;

  std::vector<const domain::Projector*> projectors_;
  std::vector<std::string> categories_;
  std::vector<std::vector<int>> listeners_;  // projector indexes, per category of categories_
  std::vector<storage::CategoryHead> heads_;
  int64_t total_ = 0;
  bool total_exact_ = true;  // false: total_ is an estimate until the replay has ended
  int64_t processed_ = 0;
  std::string last_projector_;
  bool need_time_ = false, need_id_ = false;
  bool has_action_ = false;
  bool has_sql_ = false;
  bool same_database_ = false;

  std::optional<PgConnection> writer_;
  std::optional<PgConnection> reader_;         // owned by the prefetch thread during replay
  std::optional<PgConnection> replay_reader_;  // epoch replays (opened when needed)
  std::optional<storage::TableInfo> table_;
  std::unique_ptr<storage::ProjectionStore> store_;
  std::vector<ColumnSpec> specs_;
  std::unordered_map<const domain::Handler*, HandlerColumns> handler_columns_;
  absl::flat_hash_map<std::string, TypeEntry> types_;  // heterogeneous lookup: no copy
  std::unique_ptr<SqlStatements> sql_;
  domain::Parameter default_key_;  // ":<key column>", for handlers without `key`
  EventPayload payload_;
  std::vector<WorkItem> items_;
  bool in_transaction_ = false;
  // Action rows held across batches (see RowCache). An "epoch" is the span of batches since
  // the last flush, opened by the savepoint pa_epoch; a failing fetch or flush rolls the
  // epoch back and replays its events from the event store one batch at a time with
  // per-event isolation (write_through_).
  std::unique_ptr<RowCache> cache_;
  bool cache_full_reported_ = false;
  bool write_through_ = false;
  // Hashes of the warnings given since the epoch began, so that its replay does not repeat
  // them (FirstInEpoch).
  absl::flat_hash_set<size_t> epoch_warnings_;
  bool fallback_requested_ = false;
  std::vector<int64_t> cursor_;  // last consumed position per category
  std::vector<int64_t> epoch_cursor_;
  int64_t epoch_dispatched_ = 0, epoch_skipped_ = 0;
  SkipLog skips_, epoch_skips_;
  bool too_many_skipped_ = false;
  int64_t epoch_processed_ = 0;
  int64_t sql_epoch_events_ = 0;  // events of the current SQL-form epoch
  bool locked_ = false;
  bool truncated_ = false;
  std::string lock_text_;
};

bool Engine::Fatal(const absl::Status& status) const {
  // A cache-backed projection's writes cannot be rolled back: retrying a failed fold event
  // by event could apply its events twice.
  return projection_.cache_backed() || status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kCancelled || !writer_->ok();
}

absl::Status Engine::Exec(std::string_view sql) {
  auto r = writer_->Exec(sql);
  return r.ok() ? absl::OkStatus() : r.status();
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
  e.skipped = result_.events_skipped;
  options_.on_progress(e);
}

void Engine::EmitProgress() {
  if (!options_.on_progress) return;
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::kProgress;
  e.projection = projection_.name;
  e.phase = Phase::kReplay;
  e.projector = last_projector_;
  e.processed = processed_;
  e.total = ReportedTotal();
  e.skipped = result_.events_skipped;
  options_.on_progress(e);
}

bool Engine::FirstInEpoch(const std::string& message) {
  // Bounded: an epoch with more warnings than this may repeat the later ones on replay.
  constexpr size_t kRemembered = 100000;
  const size_t hash = absl::Hash<std::string>{}(message);
  if (write_through_) return !epoch_warnings_.contains(hash);
  if (epoch_warnings_.size() < kRemembered) epoch_warnings_.insert(hash);
  return true;
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

// The skip reasons into the result, and a loud warning for each projector whose every
// handled event failed.
void Engine::ReportSkips() {
  result_.skip_reasons = skips_.Reasons();
  std::vector<std::string> names;
  for (const domain::Projector* p : projectors_) names.push_back(p->name);
  for (std::string& warning : skips_.AllFailedWarnings(names)) {
    spdlog::error("Rebuild of {}: {}", projection_.name, warning);
    Warn(warning);
    result_.warnings.push_back(std::move(warning));
  }
}

absl::Status Engine::Rollback() {
  if (!in_transaction_ || !writer_ || !writer_->ok()) return absl::OkStatus();
  in_transaction_ = false;
  return Exec("ROLLBACK");
}

absl::StatusOr<RebuildResult> Engine::Run() {
  auto started = std::chrono::steady_clock::now();
  result_.projection_name = projection_.name;
  absl::Status status = Prepare();
  if (status.ok() && result_.errors.empty()) {
    status = Replay();
    ReportSkips();
    if (status.ok() && options_.cancel != nullptr && options_.cancel->cancelled()) {
      status = absl::CancelledError(
          absl::StrCat("Rebuild of projection '", projection_.name, "' was cancelled"));
    }
    bool handed_off = false;
    if (status.ok() && options_.strategy == Strategy::kAtomic && same_database_) {
      status = HandOff(*writer_, /*set_local_search_path=*/true);
      handed_off = true;
    }
    if (status.ok() && options_.strategy == Strategy::kAtomic) {
      EmitPhase(Phase::kCommit);
      status = Exec("COMMIT");
      in_transaction_ = false;
    }
    if (!status.ok()) {
      absl::Status rolled_back = Rollback();
      if (!rolled_back.ok()) {
        spdlog::error("Rebuild of {}: rollback failed: {}", projection_.name,
                      std::string(rolled_back.message()));
      }
      if (too_many_skipped_ && options_.strategy == Strategy::kAtomic) {
        result_.errors.push_back(
            absl::StrCat(status.message(), "; rolled back: the projection is as it was"));
        status = absl::OkStatus();
        handed_off = true;
      } else if (options_.strategy == Strategy::kInplace && truncated_) {
        // In place, earlier batches are committed: the projection is partial, also when the
        // rebuild was cancelled (the caller sees that on its token).
        result_.partial = true;
        result_.errors.push_back(
            status.code() == absl::StatusCode::kCancelled
                ? absl::StrCat(status.message(), " after ", processed_, " of ", ReportedTotal(),
                               " events: the in-place rebuild left the projection partial")
                : std::string(status.message()));
        status = absl::OkStatus();
        handed_off = true;  // no hand-off for a partial projection
      }
    }
    if (status.ok() && !handed_off) {
      absl::Status hand_off = HandOff(*reader_, /*set_local_search_path=*/false);
      if (!hand_off.ok()) {
        result_.errors.push_back(
            absl::StrCat("Hand-off of subscription positions failed after the rebuild was "
                         "committed: ",
                         std::string(hand_off.message())));
      }
    }
  }
  if (locked_ && writer_ && writer_->ok()) {
    (void)storage::AdvisoryUnlock(*writer_, lock_text_);
  }
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
  projectors_ = domain_.ProjectorsFor(projection_.name);
  if (projectors_.empty()) {
    result_.errors.push_back(
        absl::StrCat("No projectors found for projection `", projection_.name, "`"));
    return absl::OkStatus();
  }
  result_.projectors_processed = static_cast<int>(projectors_.size());
  skips_ = SkipLog(projectors_.size());
  default_key_.path = {projection_.key};
  default_key_.text = ":" + projection_.key;
  absl::flat_hash_map<std::string, int> category_index;
  for (size_t i = 0; i < projectors_.size(); ++i) {
    const domain::Projector& p = *projectors_[i];
    result_.categories_processed += static_cast<int>(p.categories.size());
    for (const std::string& c : p.categories) {
      auto [it, added] = category_index.emplace(c, static_cast<int>(categories_.size()));
      if (added) {
        categories_.push_back(c);
        listeners_.emplace_back();
      }
      auto& list = listeners_[it->second];
      if (list.empty() || list.back() != static_cast<int>(i)) list.push_back(static_cast<int>(i));
    }
    for (const domain::Handler& h : p.handlers) {
      if (h.form == domain::Handler::Form::kAction) has_action_ = true;
      if (h.form == domain::Handler::Form::kSql) has_sql_ = true;
      ForEachParameter(h, [&](const domain::Parameter& param) {
        need_time_ |= UsesAttribute(param, domain::MessageAttribute::kTime);
        need_id_ |= UsesAttribute(param, domain::MessageAttribute::kMessageId);
      });
    }
  }
  std::string schema;
  if (projection_.cache_backed()) {
    // The advisory lock (and the inplace strategy's empty transactions) live on a connection
    // to the event store; the rows live in Redis.
    auto writer = PgConnection::Connect(domain_.event_store.database_uri);
    if (!writer.ok()) return writer.status();
    writer_.emplace(std::move(*writer));
  } else {
    const domain::DatabaseConfig* database = domain_.FindDatabase(projection_.database);
    if (database == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("Projection '", projection_.name,
                                                        "': database '", projection_.database,
                                                        "' is not configured"));
    }
    schema = !projection_.schema.empty() ? projection_.schema : database->schema;
    auto writer = PgConnection::Connect(database->database_uri);
    if (!writer.ok()) return writer.status();
    writer_.emplace(std::move(*writer));
    if (!schema.empty()) {
      absl::Status s =
          Exec(absl::StrCat("SET search_path TO ", storage::QuoteIdent(schema), ", public"));
      if (!s.ok()) return s;
    }
  }
  // Lock.
  EmitPhase(Phase::kGuard);
  absl::StatusOr<std::string> lock_text =
      ProjectionLockText(*writer_, domain_, projection_, schema);
  if (!lock_text.ok()) return lock_text.status();
  lock_text_ = *std::move(lock_text);
  absl::StatusOr<bool> locked = storage::TryAdvisoryLock(*writer_, lock_text_);
  if (!locked.ok()) return locked.status();
  if (!*locked) {
    // Possibly by a rebuild of another projection (or domain) writing the same table or keys.
    return absl::AbortedError(absl::StrCat("Projection '", projection_.name,
                                           "' is already being rebuilt: another rebuild holds "
                                           "the lock on what it writes (",
                                           lock_text_, ")"));
  }
  locked_ = true;
  if (options_.guard) {
    absl::Status guard = options_.guard(domain_, projection_);
    if (!guard.ok()) {
      return guard;
    }
  }
  std::unique_ptr<RedisProjectionStore> cache_store;
  absl::Status s = projection_.cache_backed() ? OpenCache(cache_store) : OpenTable(schema);
  if (!s.ok()) return s;
  for (const storage::ColumnInfo& c : table_->columns) specs_.push_back(ColumnSpec::From(c));
  const int key_index = table_->ColumnIndex(projection_.key);
  if (has_action_ && key_index < 0) {
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
  s = PlanHandlers();
  if (!s.ok()) return s;
  cache_ = std::make_unique<RowCache>(*store_, specs_);
  // Event store.
  auto reader = PgConnection::Connect(domain_.event_store.database_uri);
  if (!reader.ok()) return reader.status();
  reader_.emplace(std::move(*reader));
  absl::Status prepared = storage::PrepareEventStoreConnection(*reader_);
  if (!prepared.ok()) return prepared;
  {
    const char* kIdentity =
        "SELECT current_database() || '|' || pg_postmaster_start_time()::text || '|' || "
        "coalesce(inet_server_port(), 0)::text";
    auto a = writer_->Exec(kIdentity);
    auto b = reader_->Exec(kIdentity);
    if (!a.ok()) return a.status();
    if (!b.ok()) return b.status();
    same_database_ = a->Get(0, 0) == b->Get(0, 0);
  }
  // Snapshot.
  EmitPhase(Phase::kSnapshot);
  {
    auto heads = storage::SnapshotHeads(*reader_, categories_);
    if (!heads.ok()) return heads.status();
    heads_ = std::move(*heads);
    for (const storage::CategoryHead& head : heads_) {
      total_ += head.count;
      total_exact_ &= head.count_exact;
    }
  }
  // Truncate.
  EmitPhase(Phase::kTruncate);
  s = Exec("BEGIN");
  if (!s.ok()) return s;
  in_transaction_ = true;
  s = store_->Truncate();
  if (!s.ok()) return s;
  // Atomic: the emptied table is this transaction's alone until the commit.
  if (options_.strategy == Strategy::kAtomic && !projection_.cache_backed()) {
    cache_->SetTableEmpty();
  }
  if (options_.strategy == Strategy::kInplace) {
    s = Exec("COMMIT");
    in_transaction_ = false;
    if (!s.ok()) return s;
    truncated_ = true;
  }
  return absl::OkStatus();
}

// A cache-backed projection: action form only, and Redis reachable before anything is
// truncated.
absl::Status Engine::OpenCache(std::unique_ptr<RedisProjectionStore>& store) {
  for (const domain::Projector* p : projectors_) {
    for (const domain::Handler& h : p->handlers) {
      if (h.form == domain::Handler::Form::kSql) {
        return HandlerError(*p, h, h.where,
                            absl::StrCat("the SQL form cannot write the cache-backed projection '",
                                         projection_.name, "'"));
      }
    }
  }
  auto opened = RedisProjectionStore::Open(domain_, projection_);
  if (!opened.ok()) return opened.status();
  store = std::move(*opened);
  table_ = store->table();
  return absl::OkStatus();
}

// The projection's table: created from the declared columns when missing, else checked
// against them.
absl::Status Engine::OpenTable(const std::string& schema) {
  auto table = storage::LoadTableInfo(*writer_, schema, projection_.table);
  if (!table.ok()) return table.status();
  if (table->has_value()) {
    table_ = std::move(**table);
    absl::Status matches = storage::CheckDeclaredColumns(*writer_, *table_, projection_.columns);
    if (!matches.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("Projection '", projection_.name, "': ", matches.message()));
    }
    return absl::OkStatus();
  }
  std::string where =
      schema.empty() ? projection_.table : absl::StrCat(schema, ".", projection_.table);
  if (projection_.columns.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Projection '", projection_.name, "': table ", where,
                     " does not exist and no columns are declared to create it"));
  }
  absl::Status created = storage::CreateTable(*writer_, schema, projection_.table,
                                              projection_.columns, projection_.key);
  if (!created.ok()) {
    return absl::Status(created.code(),
                        absl::StrCat("Projection '", projection_.name, "': cannot create table ",
                                     where, ": ", storage::PgPrimaryMessage(created)));
  }
  spdlog::info("Created table {} for projection {}", where, projection_.name);
  table = storage::LoadTableInfo(*writer_, schema, projection_.table);
  if (!table.ok()) return table.status();
  if (!table->has_value()) return absl::InternalError(absl::StrCat("table ", where, " vanished"));
  table_ = std::move(**table);
  return absl::OkStatus();
}

absl::Status Engine::HandlerError(const domain::Projector& projector,
                                  const domain::Handler& handler, const std::string& where,
                                  const std::string& message) const {
  return absl::FailedPreconditionError(absl::StrCat(where, where.empty() ? "" : ": ", "projector ",
                                                    projector.name, ", event ", handler.event, ": ",
                                                    message));
}

// Checks every handler against the real table before anything is truncated: action-form
// columns exist, SQL-form statements prepare (their parameters typed, see sql_statements.h).
absl::Status Engine::PlanHandlers() {
  for (const domain::Projector* p : projectors_) {
    for (const domain::Handler& h : p->handlers) {
      if (h.form == domain::Handler::Form::kAction) {
        absl::Status s = ResolveColumns(*p, h);
        if (!s.ok()) return s;
        continue;
      }
      for (const domain::SqlStatement& statement : h.sql) {
        absl::Status s = sql_->Plan(statement);
        if (absl::IsUnavailable(s)) return s;
        if (!s.ok()) {
          return HandlerError(*p, h, statement.where.empty() ? h.where : statement.where,
                              storage::PgPrimaryMessage(s));
        }
      }
    }
  }
  return absl::OkStatus();
}

// The table's column index of every column an action-form handler names.
absl::Status Engine::ResolveColumns(const domain::Projector& p, const domain::Handler& h) {
  HandlerColumns& hc = handler_columns_[&h];
  for (auto [list, out] : {std::pair{&h.set, &hc.set}, std::pair{&h.insert, &hc.insert},
                           std::pair{&h.increment, &hc.increment}}) {
    for (const auto& [column, value] : *list) {
      const int index = table_->ColumnIndex(column);
      if (index < 0) {
        return HandlerError(p, h, h.where,
                            absl::StrCat("table ", table_->qualified, " has no column ", column));
      }
      out->push_back(index);
    }
  }
  return absl::OkStatus();
}

absl::Status Engine::BeginEpoch() {
  epoch_cursor_ = cursor_;
  epoch_processed_ = processed_;
  epoch_warnings_.clear();
  // Each epoch is a subtransaction, and rows updated under many of them cost PostgreSQL
  // MultiXact lookups: SQL-form epochs double in size (a failure's replay stays at most
  // the size of the work done so far).
  sql_epoch_events_ = sql_epoch_events_ == 0
                          ? options_.sql_epoch_events
                          : std::min<int64_t>(2 * sql_epoch_events_, int64_t{1} << 40);
  epoch_dispatched_ = result_.events_dispatched;
  epoch_skipped_ = result_.events_skipped;
  epoch_skips_ = skips_;
  return Exec("SAVEPOINT pa_epoch");
}

// Ends the epoch: writes the held rows (when `flush`), falling back to replaying the epoch
// when that fails, then releases the epoch's savepoint.
absl::Status Engine::EndEpoch(bool flush) {
  if (fallback_requested_) {
    absl::Status s = ReplayEpoch();
    if (!s.ok()) return s;
  } else if (flush) {
    absl::Status s = cache_->Flush();
    if (!s.ok()) {
      if (Fatal(s)) return s;
      spdlog::warn(
          "Rebuild of {}: writing folded rows failed ({}); replaying the last events "
          "one batch at a time",
          projection_.name, std::string(s.message()));
      s = ReplayEpoch();
      if (!s.ok()) return s;
    }
  }
  return Exec("RELEASE SAVEPOINT pa_epoch");
}

absl::Status Engine::ReplayEpoch() {
  fallback_requested_ = false;
  absl::Status s = Exec("ROLLBACK TO SAVEPOINT pa_epoch");
  if (!s.ok()) return s;
  cache_->Clear();
  result_.events_dispatched = epoch_dispatched_;
  result_.events_skipped = epoch_skipped_;
  skips_ = epoch_skips_;
  if (!replay_reader_) {
    auto conn = PgConnection::Connect(domain_.event_store.database_uri);
    if (!conn.ok()) return conn.status();
    replay_reader_.emplace(std::move(*conn));
    s = storage::PrepareEventStoreConnection(*replay_reader_);
    if (!s.ok()) return s;
  }
  std::vector<storage::CategoryReader> readers;
  storage::ReadColumns columns{need_time_, need_id_};
  for (size_t c = 0; c < heads_.size(); ++c) {
    readers.emplace_back(&*replay_reader_, heads_[c].category, cursor_[c], options_.batch_size,
                         columns, epoch_cursor_[c]);
  }
  storage::MessagePrefetcher batches(storage::MessageMerger(std::move(readers)),
                                     options_.batch_size);
  write_through_ = true;
  s = ReadBatches(batches, /*main=*/false);
  write_through_ = false;
  return s;
}

// Reads batches from `merger` and processes them. The main pass also handles transactions,
// epochs, cancellation and progress; an epoch replay only processes.
absl::Status Engine::ReadBatches(storage::MessagePrefetcher& batches, bool main) {
  const bool inplace = options_.strategy == Strategy::kInplace;
  while (true) {
    if (main && options_.cancel != nullptr && options_.cancel->cancelled()) {
      return absl::CancelledError(
          absl::StrCat("Rebuild of projection '", projection_.name, "' was cancelled"));
    }
    auto next = batches.Next();
    if (!next.ok()) return next.status();
    const std::vector<storage::MessageRef>& batch = *next;
    if (batch.empty()) break;
    if (!main) {
      absl::Status s = ProcessBatch(batch);
      if (!s.ok()) return s;
      continue;
    }
    if (inplace) {
      absl::Status s = Exec("BEGIN");
      if (!s.ok()) return s;
      in_transaction_ = true;
      s = BeginEpoch();
      if (!s.ok()) return s;
    }
    absl::Status s = ProcessBatch(batch);
    if (!s.ok() && !fallback_requested_) return s;
    for (const storage::MessageRef& m : batch) cursor_[m.source] = m.GlobalPosition();
    processed_ += static_cast<int64_t>(batch.size());
    const bool cache_full = static_cast<int64_t>(cache_->memory_bytes()) > options_.row_cache_bytes;
    if (cache_full && !cache_full_reported_) {
      cache_full_reported_ = true;
      spdlog::info(
          "Rebuild of {}: the row cache ({} MiB) is full at {} rows after {} events; rows are "
          "written and fetched back from now on (more memory for it would be faster)",
          projection_.name, options_.row_cache_bytes >> 20, cache_->size(), processed_);
    }
    if (inplace || fallback_requested_ || cache_full ||
        (has_sql_ && processed_ - epoch_processed_ >= sql_epoch_events_)) {
      s = EndEpoch(/*flush=*/true);
      if (!s.ok()) return s;
      if (!inplace) {
        s = BeginEpoch();
        if (!s.ok()) return s;
      }
    }
    if (inplace) {
      s = Exec("COMMIT");
      in_transaction_ = false;
      if (!s.ok()) return s;
    }
    EmitProgress();
    s = CheckSkipped();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// --max-skipped: more skipped events end the replay (the caller rolls back or reports a
// partial projection).
absl::Status Engine::CheckSkipped() {
  if (options_.max_skipped < 0 || result_.events_skipped <= options_.max_skipped) {
    return absl::OkStatus();
  }
  too_many_skipped_ = true;
  return absl::FailedPreconditionError(
      absl::StrCat(result_.events_skipped, " events skipped, more than the ", options_.max_skipped,
                   " allowed (--max-skipped)"));
}

absl::Status Engine::Replay() {
  EmitPhase(Phase::kReplay);
  EmitProgress();
  // One COPY stream over all categories, in global_position order, on its own connection
  // (the server produces the next rows while this process applies the current ones).
  auto conn = PgConnection::Connect(domain_.event_store.database_uri);
  if (!conn.ok()) return conn.status();
  absl::Status prepared = storage::PrepareEventStoreConnection(*conn);
  if (!prepared.ok()) return prepared;
  std::vector<storage::CategoryReader> readers;
  readers.push_back(storage::CategoryReader::Streaming(
      std::move(*conn), heads_, options_.batch_size, {need_time_, need_id_}));
  cursor_.assign(heads_.size(), 0);
  const bool inplace = options_.strategy == Strategy::kInplace;
  if (!inplace) {
    absl::Status s = BeginEpoch();
    if (!s.ok()) return s;
  }
  // The next batch is read on another thread while this one is applied.
  storage::MessagePrefetcher batches(storage::MessageMerger(std::move(readers)),
                                     options_.batch_size);
  absl::Status s = ReadBatches(batches, /*main=*/true);
  if (!s.ok()) return s;
  if (!total_exact_) {
    // The estimate is replaced by the count of what was replayed.
    total_ = processed_;
    total_exact_ = true;
    EmitProgress();
  }
  if (!inplace) return EndEpoch(/*flush=*/true);
  return absl::OkStatus();
}

const TypeEntry& Engine::TypeFor(std::string_view type) {
  auto it = types_.find(absl::string_view(type.data(), type.size()));
  if (it != types_.end()) return it->second;
  TypeEntry entry;
  entry.resolution = domain_.Resolve(type);
  if (entry.resolution.event != nullptr) {
    for (const domain::Projector* p : projectors_) {
      entry.handlers.push_back(p->FindHandler(entry.resolution.event->name));
    }
  }
  return types_.emplace(std::string(type), std::move(entry)).first->second;
}

absl::StatusOr<Datum> Engine::EvalValue(const domain::Value& value) {
  if (value.parameter) return payload_.Get(*value.parameter);
  return LiteralDatum(value.literal);
}

void Engine::EvalAction(const domain::Handler& h, ActionItem& item) {
  const HandlerColumns& hc = handler_columns_.at(&h);
  absl::StatusOr<Datum> key;
  if (!h.key.parameter && h.key.literal.is_null()) {
    key = payload_.Get(default_key_);
  } else {
    key = EvalValue(h.key);
  }
  if (!key.ok()) {
    item.eval_status = key.status();
    return;
  }
  if (!key->is_null()) item.key = std::move(key->text);
  auto fill = [&](const std::vector<std::pair<std::string, domain::Value>>& list,
                  const std::vector<int>& indexes,
                  std::vector<std::pair<int, Datum>>& out) -> bool {
    out.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      absl::StatusOr<Datum> d = EvalValue(list[i].second);
      if (!d.ok()) {
        item.eval_status = d.status();
        return false;
      }
      out.emplace_back(indexes[i], std::move(*d));
    }
    return true;
  };
  if (!fill(h.set, hc.set, item.set)) return;
  if (!fill(h.insert, hc.insert, item.insert)) return;
  if (!fill(h.increment, hc.increment, item.increment)) return;
  item.remove = h.remove;
}

void Engine::EvalSql(const domain::Handler& h, SqlItem& item) {
  for (const domain::SqlStatement& statement : h.sql) {
    std::vector<Datum>& values = item.values.emplace_back();
    values.reserve(statement.parameters.size());
    for (const domain::Parameter& p : statement.parameters) {
      absl::StatusOr<Datum> d = payload_.Get(p);
      if (!d.ok()) {
        item.eval_status = d.status();
        return;
      }
      values.push_back(*std::move(d));
    }
    item.statements.push_back(&statement);
  }
}

void Engine::Record(const WorkItem& item, const absl::Status& status,
                    const std::vector<storage::MessageRef>& batch) {
  skips_.Handled(item.projector);
  if (status.ok()) {
    ++result_.events_dispatched;
    return;
  }
  ++result_.events_skipped;
  const storage::MessageRef& m = batch[item.message];
  const std::string& projector = projectors_[item.projector]->name;
  const std::string reason = storage::PgPrimaryMessage(status);
  skips_.Skipped(item.projector, projector, m.Type(), reason, m.GlobalPosition());
  std::string message =
      absl::StrCat("Projector '", projector, "' failed to handle event ", std::string(m.Type()),
                   " at global position ", m.GlobalPosition(), ": ", reason, " (event skipped)");
  if (!FirstInEpoch(message)) return;
  spdlog::error("{}", message);
  Warn(message);
}

absl::Status Engine::ProcessBatch(const std::vector<storage::MessageRef>& batch) {
  items_.clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    const storage::MessageRef& m = batch[i];
    // Readers number messages by category, in categories_ (and heads_) order.
    const std::vector<int>& listeners = listeners_[m.source];
    const TypeEntry& type = TypeFor(m.Type());
    if (type.resolution.event == nullptr) {
      result_.events_skipped += static_cast<int64_t>(listeners.size());
      skips_.Skipped(-1, "", m.Type(),
                     "the type cannot be resolved (unknown, or an old version "
                     "without an upcaster chain)",
                     m.GlobalPosition(), static_cast<int64_t>(listeners.size()));
      std::string message =
          absl::StrCat("Skipping event of unresolvable type `", std::string(m.Type()),
                       "` at global position ", m.GlobalPosition());
      if (FirstInEpoch(message)) {
        spdlog::warn("{}", message);
        Warn(message);
      }
      continue;
    }
    bool loaded = false;
    absl::Status load_status;
    for (int p : listeners) {
      const domain::Handler* h = type.handlers[p];
      last_projector_ = projectors_[p]->name;
      if (h == nullptr) {
        ++result_.events_dispatched;
        continue;
      }
      if (!loaded) {
        load_status = payload_.Load(m, type.resolution);
        loaded = true;
      }
      WorkItem& w = items_.emplace_back();
      w.message = static_cast<int>(i);
      w.projector = p;
      w.handler = h;
      w.action = h->form == domain::Handler::Form::kAction;
      if (!load_status.ok()) {
        (w.action ? w.act.eval_status : w.sql.eval_status) = load_status;
      } else if (w.action) {
        EvalAction(*h, w.act);
      } else {
        EvalSql(*h, w.sql);
      }
    }
  }
  size_t begin = 0;
  while (begin < items_.size()) {
    size_t end = begin;
    while (end < items_.size() && items_[end].action == items_[begin].action) ++end;
    absl::Status s = items_[begin].action ? RunActionSegment(begin, end, batch)
                                          : RunSqlSegment(begin, end, batch);
    if (!s.ok()) return s;
    begin = end;
  }
  return absl::OkStatus();
}

absl::Status Engine::RunActionSegment(size_t begin, size_t end,
                                      const std::vector<storage::MessageRef>& batch) {
  std::vector<const ActionItem*> acts;
  acts.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) acts.push_back(&items_[i].act);
  if (!write_through_) {
    // Fast path: fold into the held rows; written at the end of the epoch.
    auto applied = cache_->Apply(acts);
    if (!applied.ok()) {
      if (Fatal(applied.status())) return applied.status();
      spdlog::warn(
          "Rebuild of {}: fetching rows failed ({}); replaying the last events one "
          "batch at a time",
          projection_.name, std::string(applied.status().message()));
      fallback_requested_ = true;
      return applied.status();
    }
    for (size_t i = begin; i < end; ++i) Record(items_[i], (*applied)[i - begin], batch);
    return absl::OkStatus();
  }
  absl::Status s = Exec("SAVEPOINT pa_segment");
  if (!s.ok()) return s;
  auto folded = FoldAndWrite(*store_, specs_, acts);
  if (folded.ok()) {
    s = Exec("RELEASE SAVEPOINT pa_segment");
    if (!s.ok()) return s;
    for (size_t i = begin; i < end; ++i) Record(items_[i], (*folded)[i - begin], batch);
    return absl::OkStatus();
  }
  if (Fatal(folded.status())) return folded.status();
  // Redo one event at a time, each in its own savepoint, skipping the failing ones.
  s = Exec("ROLLBACK TO SAVEPOINT pa_segment");
  if (!s.ok()) return s;
  for (size_t i = begin; i < end; ++i) {
    if (!items_[i].act.eval_status.ok()) {
      Record(items_[i], items_[i].act.eval_status, batch);
      continue;
    }
    s = Exec("SAVEPOINT pa_event");
    if (!s.ok()) return s;
    auto one = FoldAndWrite(*store_, specs_, {&items_[i].act});
    if (one.ok()) {
      s = Exec("RELEASE SAVEPOINT pa_event");
      if (!s.ok()) return s;
      Record(items_[i], (*one)[0], batch);
    } else {
      if (Fatal(one.status())) return one.status();
      s = Exec("ROLLBACK TO SAVEPOINT pa_event; RELEASE SAVEPOINT pa_event");
      if (!s.ok()) return s;
      Record(items_[i], one.status(), batch);
    }
  }
  return Exec("RELEASE SAVEPOINT pa_segment");
}

// Binds the item's statements to its values; a failure that is the event's own is stored
// in the item, a fatal one returned.
absl::Status Engine::BindSql(SqlItem& item) {
  for (size_t c = 0; c < item.statements.size(); ++c) {
    absl::StatusOr<storage::PipelineCommand> command =
        sql_->Bind(*item.statements[c], item.values[c]);
    if (!command.ok()) {
      if (Fatal(command.status())) return command.status();
      item.eval_status = command.status();
      return absl::OkStatus();
    }
    item.commands.push_back(*std::move(command));
  }
  return absl::OkStatus();
}

absl::Status Engine::RunSqlSegment(size_t begin, size_t end,
                                   const std::vector<storage::MessageRef>& batch) {
  if (!write_through_ && cache_) {
    // SQL sees the projection as one-by-one application would have left it: write the held
    // rows first, and forget them and that the table was emptied: the statements may write
    // any row, which the cache must fetch afterwards rather than take for absent.
    absl::Status flushed = cache_->Flush();
    if (!flushed.ok()) {
      if (Fatal(flushed)) return flushed;
      fallback_requested_ = true;
      return flushed;
    }
  }
  std::vector<size_t> pending;
  for (size_t i = begin; i < end; ++i) {
    SqlItem& item = items_[i].sql;
    if (item.eval_status.ok()) {
      absl::Status bound = BindSql(item);
      if (!bound.ok()) return bound;
    }
    if (item.eval_status.ok()) {
      pending.push_back(i);
    } else {
      Record(items_[i], item.eval_status, batch);
    }
  }
  // Outside an epoch replay, statements run without a savepoint per segment (each one is a
  // subtransaction, and rows updated by many of them in one transaction cost PostgreSQL
  // MultiXact lookups on every later update): a failure rolls the epoch back and replays it
  // with per-event isolation. In that replay, a segment runs in a savepoint and a failing
  // statement's event is skipped and the rest re-sent.
  const bool isolated = write_through_;
  int failures = 0;
  std::vector<storage::PipelineCommand> commands;
  std::vector<size_t> owner;
  while (!pending.empty() && failures < kPipelineRetries) {
    commands.clear();
    owner.clear();
    for (size_t i : pending) {
      for (const storage::PipelineCommand& c : items_[i].sql.commands) {
        commands.push_back(c);
        owner.push_back(i);
      }
    }
    absl::Status s = isolated ? Exec("SAVEPOINT pa_segment") : absl::OkStatus();
    if (!s.ok()) return s;
    auto statuses = storage::RunPipeline(*writer_, commands);
    if (!statuses.ok()) return statuses.status();
    int first = storage::FirstFailure(*statuses);
    if (first < 0) {
      s = isolated ? Exec("RELEASE SAVEPOINT pa_segment") : absl::OkStatus();
      if (!s.ok()) return s;
      for (size_t i : pending) Record(items_[i], absl::OkStatus(), batch);
      return absl::OkStatus();
    }
    if (Fatal((*statuses)[first])) return (*statuses)[first];
    if (!isolated) {
      spdlog::warn(
          "Rebuild of {}: a SQL-form statement failed ({}); replaying the last events with "
          "per-event isolation",
          projection_.name, std::string((*statuses)[first].message()));
      fallback_requested_ = true;
      return (*statuses)[first];
    }
    s = Exec("ROLLBACK TO SAVEPOINT pa_segment; RELEASE SAVEPOINT pa_segment");
    if (!s.ok()) return s;
    size_t failed = owner[first];
    Record(items_[failed], (*statuses)[first], batch);
    pending.erase(std::find(pending.begin(), pending.end(), failed));
    ++failures;
  }
  // Many failures: one event at a time.
  for (size_t i : pending) {
    absl::Status s = Exec("SAVEPOINT pa_event");
    if (!s.ok()) return s;
    auto statuses = storage::RunPipeline(*writer_, items_[i].sql.commands);
    if (!statuses.ok()) return statuses.status();
    int first = storage::FirstFailure(*statuses);
    if (first < 0) {
      s = Exec("RELEASE SAVEPOINT pa_event");
      if (!s.ok()) return s;
      Record(items_[i], absl::OkStatus(), batch);
    } else {
      if (Fatal((*statuses)[first])) return (*statuses)[first];
      s = Exec("ROLLBACK TO SAVEPOINT pa_event; RELEASE SAVEPOINT pa_event");
      if (!s.ok()) return s;
      Record(items_[i], (*statuses)[first], batch);
    }
  }
  return absl::OkStatus();
}

absl::Status Engine::HandOff(PgConnection& conn, bool set_local_search_path) {
  if (!options_.hand_off) return absl::OkStatus();
  bool any = false;
  for (const domain::Projector* p : projectors_) any |= p->subscriber.has_value();
  if (!any) return absl::OkStatus();
  EmitPhase(Phase::kHandOff);
  if (set_local_search_path) {
    auto r = conn.Exec("SET LOCAL search_path TO message_store, public");
    if (!r.ok()) return r.status();
  }
  for (const domain::Projector* p : projectors_) {
    if (!p->subscriber) continue;
    for (const std::string& category : p->categories) {
      int64_t head = 0;
      for (const storage::CategoryHead& h : heads_) {
        if (h.category == category) head = h.head;
      }
      // An empty category hands off position 0: the server then reads it from the start,
      // which is exactly the events appended after the snapshot.
      absl::Status s = storage::WriteReadPosition(conn, *p->subscriber, category, head);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RebuildResult> RebuildProjection(const domain::Domain& domain,
                                                std::string_view projection_name,
                                                const RebuildOptions& options) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch size must be a positive number, got ", options.batch_size));
  }
  const domain::Projection* projection = domain.FindProjection(projection_name);
  if (projection == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("Projection '", std::string(projection_name), "' not found"));
  }
  // Cache-backed projections are always rebuilt in place (DESIGN.md §1).
  RebuildOptions effective = options;
  if (projection->cache_backed()) effective.strategy = Strategy::kInplace;
  Engine engine(domain, *projection, effective);
  return engine.Run();
}

absl::StatusOr<std::vector<RebuildResult>> RebuildAllProjections(
    const domain::Domain& domain, const RebuildOptions& options,
    const std::function<void(const RebuildResult&)>& on_result) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch size must be a positive number, got ", options.batch_size));
  }
  std::vector<RebuildResult> results;
  for (const domain::Projection& projection : domain.projections) {
    if (options.cancel != nullptr && options.cancel->cancelled()) {
      return absl::CancelledError("Rebuild of all projections was cancelled");
    }
    absl::StatusOr<RebuildResult> result = RebuildProjection(domain, projection.name, options);
    if (!result.ok() && absl::IsCancelled(result.status())) return result.status();
    if (!result.ok()) {
      RebuildResult failed;
      failed.projection_name = projection.name;
      failed.errors.push_back(std::string(result.status().message()));
      result = std::move(failed);
    }
    if (on_result) on_result(*result);
    results.push_back(*std::move(result));
  }
  return results;
}

}  // namespace protean_admin::rebuild
