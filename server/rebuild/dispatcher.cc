#include "server/rebuild/dispatcher.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/rebuild/action_values.h"
#include "spdlog/spdlog.h"
#include "storage/pg_pipeline.h"
#include "storage/savepoint.h"

namespace protean_admin::rebuild {
namespace {

// After this many failing SQL-form events in one isolated segment, the rest of the segment
// runs one event at a time instead of re-sending the pipeline.
constexpr int kPipelineRetries = 4;

// Warnings remembered per epoch; an epoch with more may repeat the later ones on replay.
constexpr size_t kRememberedWarnings = 100000;

}  // namespace

Dispatcher::Dispatcher(Targets targets, std::function<void(const std::string&)> warn)
    : t_(std::move(targets)), warn_(std::move(warn)) {
  default_key_.path = {t_.key_column};
  default_key_.text = ":" + t_.key_column;
  tally_.skips = SkipLog(t_.plan->projectors.size());
}

bool Dispatcher::Fatal(const absl::Status& status) const {
  return t_.cache_backed || absl::IsUnavailable(status) || absl::IsCancelled(status) ||
         !t_.writer->ok();
}

absl::Status Dispatcher::Apply(const std::vector<storage::MessageRef>& batch, bool isolated) {
  isolated_ = isolated;
  items_.clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    const storage::MessageRef& m = batch[i];
    const TypeEntry& type = TypeFor(m.Type());
    if (type.resolution.event == nullptr) {
      // Readers number messages by category, in the plan's order.
      SkipUnresolvable(m, static_cast<int>(t_.plan->listeners[m.source].size()));
      continue;
    }
    Collect(m, static_cast<int>(i), type);
  }
  // Runs of items folded in memory or run as SQL, in event order.
  for (size_t begin = 0, end = 0; begin < items_.size(); begin = end) {
    while (end < items_.size() && items_[end].in_memory() == items_[begin].in_memory()) ++end;
    RETURN_IF_ERROR(items_[begin].in_memory() ? RunMemorySegment(begin, end, batch, isolated)
                                              : RunSqlSegment(begin, end, batch, isolated));
  }
  return absl::OkStatus();
}

const Dispatcher::TypeEntry& Dispatcher::TypeFor(std::string_view type) {
  auto it = types_.find(absl::string_view(type.data(), type.size()));
  if (it != types_.end()) return it->second;
  TypeEntry entry;
  entry.resolution = t_.domain->Resolve(type);
  if (entry.resolution.event != nullptr) {
    for (const domain::Projector* p : t_.plan->projectors) {
      const domain::Handler* h = p->FindHandler(entry.resolution.event->name);
      const LoweredHandler* lowered = nullptr;
      if (h != nullptr && t_.lowered != nullptr) {
        auto it = t_.lowered->find(h);
        if (it != t_.lowered->end()) lowered = &it->second;
      }
      if (lowered != nullptr) h = &lowered->action;
      entry.handlers.push_back(h);
      entry.lowered.push_back(lowered);
      int lua_id = -1;
      if (h != nullptr && h->form == domain::Handler::Form::kLua) lua_id = t_.lua->ids.at(h);
      entry.lua_ids.push_back(lua_id);
    }
  }
  return types_.emplace(std::string(type), std::move(entry)).first->second;
}

void Dispatcher::SkipUnresolvable(const storage::MessageRef& m, int listeners) {
  tally_.skipped += listeners;
  tally_.skips.Skipped(-1, "", m.Type(),
                       "the type cannot be resolved (unknown, or an old version without an "
                       "upcaster chain)",
                       m.GlobalPosition(), listeners);
  Warn(absl::StrCat("Skipping event of unresolvable type `", std::string(m.Type()),
                    "` at global position ", m.GlobalPosition()),
       /*error=*/false);
}

// One work item per listening projector with a handler; a known event without one counts as
// dispatched to that projector.
void Dispatcher::Collect(const storage::MessageRef& m, int index, const TypeEntry& type) {
  bool loaded = false;
  absl::Status load_status;
  for (int p : t_.plan->listeners[m.source]) {
    const domain::Handler* h = type.handlers[p];
    last_projector_ = t_.plan->projectors[p]->name;
    if (h == nullptr) {
      ++tally_.dispatched;
      continue;
    }
    WorkItem& w = items_.emplace_back();
    w.message = index;
    w.projector = p;
    w.form = h->form;
    if (w.form == domain::Handler::Form::kLua) {
      EvalLua(type, p, loaded, load_status, m, w.lua);
      continue;
    }
    if (!loaded) {
      load_status = payload_.Load(m, type.resolution);
      loaded = true;
    }
    if (!load_status.ok()) {
      (w.form == domain::Handler::Form::kAction ? w.act.eval_status : w.sql.eval_status) =
          load_status;
    } else if (w.form == domain::Handler::Form::kAction) {
      EvalAction(*h, w.act);
      if (const LoweredHandler* lowered = type.lowered[p]; lowered != nullptr) {
        ++tally_.in_memory_sql;
        if (w.act.eval_status.ok()) {
          w.act.eval_status = FinishLoweredItem(*lowered, *t_.specs, w.act);
        }
      }
    } else {
      EvalSql(*h, w.sql);
    }
  }
}

// A Lua handler reads the message's own payload (its JSON is parsed into Lua values when the
// handler runs), or a copy of the upcast one.
void Dispatcher::EvalLua(const TypeEntry& type, int projector, bool& loaded,
                         absl::Status& load_status, const storage::MessageRef& m, LuaItem& item) {
  item.id = type.lua_ids[projector];
  item.version = type.resolution.stored_version;
  if (type.resolution.chain.empty() || m.DataIsNull()) return;
  if (!loaded) {
    load_status = payload_.Load(m, type.resolution);
    loaded = true;
  }
  if (!load_status.ok()) {
    item.eval_status = load_status;
    return;
  }
  item.upcast = true;
  item.upcast_json.assign(payload_.Json());
}

const absl::Status& Dispatcher::WorkItem::eval_status() const {
  switch (form) {
    case domain::Handler::Form::kAction:
      return act.eval_status;
    case domain::Handler::Form::kSql:
      return sql.eval_status;
    case domain::Handler::Form::kLua:
      break;
  }
  return lua.eval_status;
}

absl::StatusOr<Datum> Dispatcher::EvalValue(const domain::Value& value) {
  if (!value.parameter) return LiteralDatum(value.literal);
  if (!value.negate) return payload_.Get(*value.parameter);
  ASSIGN_OR_RETURN(Datum datum, payload_.Get(*value.parameter));
  return NegateValue(std::move(datum), value.parameter->text);
}

void Dispatcher::EvalAction(const domain::Handler& h, ActionItem& item) {
  const HandlerColumns& hc = t_.columns->at(&h);
  absl::StatusOr<Datum> key =
      !h.key.parameter && h.key.literal.is_null() ? payload_.Get(default_key_) : EvalValue(h.key);
  if (!key.ok()) {
    item.eval_status = key.status();
    return;
  }
  if (!key->is_null()) item.key = std::move(key->text);
  // Increments keep their parameter's value: a negated one is subtracted (action_fold.h).
  auto fill = [&](const std::vector<std::pair<std::string, domain::Value>>& list,
                  const std::vector<int>& indexes, std::vector<std::pair<int, Datum>>& out,
                  bool increments) -> bool {
    out.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      const domain::Value& value = list[i].second;
      absl::StatusOr<Datum> d =
          increments && value.parameter ? payload_.Get(*value.parameter) : EvalValue(value);
      if (!d.ok()) {
        item.eval_status = d.status();
        return false;
      }
      if (increments && value.negate && value.parameter) {
        // Subtracted as it is, but refused as any negated value that is not a number is
        // (docs/domain-toml.md: `cannot negate -:quantity: "abc" is not a number`).
        absl::Status number = NegateValue(*d, value.parameter->text).status();
        if (!number.ok()) {
          item.eval_status = std::move(number);
          return false;
        }
      }
      out.emplace_back(indexes[i], std::move(*d));
      if (increments && value.negate) {
        item.increment_subtract.resize(list.size());
        item.increment_subtract[i] = true;
      }
    }
    return true;
  };
  if (!fill(h.set, hc.set, item.set, false)) return;
  if (!fill(h.insert, hc.insert, item.insert, false)) return;
  if (!fill(h.update, hc.update, item.update, false)) return;
  if (!fill(h.increment, hc.increment, item.increment, true)) return;
  item.remove = h.remove;
}

void Dispatcher::EvalSql(const domain::Handler& h, SqlItem& item) {
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

void Dispatcher::Record(const WorkItem& item, const absl::Status& status,
                        const std::vector<storage::MessageRef>& batch) {
  tally_.skips.Handled(item.projector);
  if (status.ok()) {
    ++tally_.dispatched;
    return;
  }
  ++tally_.skipped;
  const storage::MessageRef& m = batch[item.message];
  const std::string& projector = t_.plan->projectors[item.projector]->name;
  const std::string reason = storage::PgPrimaryMessage(status);
  tally_.skips.Skipped(item.projector, projector, m.Type(), reason, m.GlobalPosition());
  Warn(absl::StrCat("Projector '", projector, "' failed to handle event ", std::string(m.Type()),
                    " at global position ", m.GlobalPosition(), ": ", reason, " (event skipped)"),
       /*error=*/true);
}

// Logs and passes on a warning, unless the epoch being replayed gave it already.
void Dispatcher::Warn(const std::string& message, bool error) {
  const size_t hash = absl::Hash<std::string>{}(message);
  if (isolated_ && epoch_warnings_.contains(hash)) return;
  if (!isolated_ && epoch_warnings_.size() < kRememberedWarnings) epoch_warnings_.insert(hash);
  if (error) {
    spdlog::error("{}", message);
  } else {
    spdlog::warn("{}", message);
  }
  if (warn_) warn_(message);
}

absl::Status Dispatcher::RunMemorySegment(size_t begin, size_t end,
                                          const std::vector<storage::MessageRef>& batch,
                                          bool isolated) {
  if (isolated) return WriteThrough(begin, end, batch);
  // Folded into the held rows; written when the caller flushes the cache.
  std::vector<absl::Status> statuses;
  absl::Status folded = Fold(*t_.cache, begin, end, batch, statuses);
  if (!folded.ok()) {
    if (Fatal(folded)) return folded;
    spdlog::warn(
        "Rebuild of {}: fetching rows failed ({}); replaying the last events one batch at a time",
        t_.projection, std::string(folded.message()));
    fallback_requested_ = true;
    return folded;
  }
  for (size_t i = begin; i < end; ++i) Record(items_[i], statuses[i - begin], batch);
  return absl::OkStatus();
}

// Runs of action items are applied at once (their rows fetched in one round trip); each Lua
// item is called on its own, reading the rows the items before it left.
absl::Status Dispatcher::Fold(RowCache& cache, size_t begin, size_t end,
                              const std::vector<storage::MessageRef>& batch,
                              std::vector<absl::Status>& statuses) {
  statuses.clear();
  std::vector<const ActionItem*> acts;
  for (size_t i = begin; i < end;) {
    if (items_[i].form == domain::Handler::Form::kLua) {
      ASSIGN_OR_RETURN(absl::Status called, CallLua(cache, items_[i], batch[items_[i].message]));
      statuses.push_back(std::move(called));
      ++i;
      continue;
    }
    acts.clear();
    for (; i < end && items_[i].form == domain::Handler::Form::kAction; ++i) {
      acts.push_back(&items_[i].act);
    }
    ASSIGN_OR_RETURN(std::vector<absl::Status> applied, cache.Apply(acts));
    for (absl::Status& s : applied) statuses.push_back(std::move(s));
  }
  return absl::OkStatus();
}

namespace {

// The rows a Lua handler reads: the row cache's, remembering a failure of the cache (which is
// not the event's).
class CacheRows : public LuaRowSource {
 public:
  explicit CacheRows(RowCache& cache) : cache_(cache) {}
  absl::StatusOr<bool> Get(std::string_view key, std::vector<storage::Cell>& cells) override {
    absl::StatusOr<bool> found = cache_.Get(key, cells);
    if (!found.ok()) error_ = found.status();
    return found;
  }
  const absl::Status& error() const { return error_; }

 private:
  RowCache& cache_;
  absl::Status error_;
};

}  // namespace

// The event's outcome (the handler's error, or OK with its changes applied to `cache`), or the
// cache's failure.
absl::StatusOr<absl::Status> Dispatcher::CallLua(RowCache& cache, const WorkItem& item,
                                                 const storage::MessageRef& m) {
  if (!item.lua.eval_status.ok()) return item.lua.eval_status;
  LuaMeta meta;
  meta.global_position = m.GlobalPosition();
  meta.position = m.Position();
  meta.time = m.Time();
  meta.stream_name = m.StreamName();
  meta.type = m.Type();
  meta.id = m.Id();
  meta.version = item.lua.version;
  std::string_view payload;
  if (item.lua.upcast) {
    payload = item.lua.upcast_json;
  } else if (!m.DataIsNull()) {
    payload = m.Data();
  }
  CacheRows rows(cache);
  absl::Status called = t_.lua->runtime->Call(item.lua.id, payload, meta, rows, lua_changes_);
  RETURN_IF_ERROR(rows.error());
  if (!called.ok()) return called;
  RETURN_IF_ERROR(cache.ApplyChanges(lua_changes_));
  return absl::OkStatus();
}

// The segment folded and written at once in a savepoint; when that fails, one event at a
// time, each in its own savepoint, skipping the failing ones.
absl::Status Dispatcher::WriteThrough(size_t begin, size_t end,
                                      const std::vector<storage::MessageRef>& batch) {
  std::vector<absl::Status> statuses;
  absl::Status s = storage::InSavepoint(*t_.writer, "pa_segment", [&]() -> absl::Status {
    RowCache cache(*t_.store, *t_.specs);
    RETURN_IF_ERROR(Fold(cache, begin, end, batch, statuses));
    return cache.Flush();
  });
  if (s.ok()) {
    for (size_t i = begin; i < end; ++i) Record(items_[i], statuses[i - begin], batch);
    return absl::OkStatus();
  }
  if (Fatal(s)) return s;
  for (size_t i = begin; i < end; ++i) {
    absl::Status outcome = items_[i].eval_status();
    if (outcome.ok()) {
      outcome = storage::InSavepoint(*t_.writer, "pa_event", [&]() -> absl::Status {
        RowCache cache(*t_.store, *t_.specs);
        std::vector<absl::Status> one;
        RETURN_IF_ERROR(Fold(cache, i, i + 1, batch, one));
        RETURN_IF_ERROR(one[0]);
        return cache.Flush();
      });
      if (!outcome.ok() && Fatal(outcome)) return outcome;
    }
    Record(items_[i], outcome, batch);
  }
  return absl::OkStatus();
}

// Binds the item's statements to its values; a failure that is the event's own is stored in
// the item, a fatal one returned.
absl::Status Dispatcher::BindSql(SqlItem& item) {
  item.wave = t_.sql_waves && !isolated_;
  for (size_t c = 0; c < item.statements.size(); ++c) {
    std::vector<uint32_t>& types = item.types.emplace_back();
    absl::StatusOr<storage::PipelineCommand> command =
        t_.sql->Bind(*item.statements[c], item.values[c], &types);
    if (!command.ok()) {
      if (Fatal(command.status())) return command.status();
      item.eval_status = command.status();
      return absl::OkStatus();
    }
    const SqlStatements::Wave* wave = t_.sql->WaveOf(*item.statements[c]);
    item.wave = item.wave && wave != nullptr &&
                IsCanonicalWaveKey(wave->key_kind, command->params[wave->key_parameter]);
    item.commands.push_back(*std::move(command));
  }
  return absl::OkStatus();
}

namespace {

// One statement's rows of one wave, with the types they were bound with.
struct WaveGroup {
  const domain::SqlStatement* statement;
  const std::vector<uint32_t>* types;
  std::vector<const std::vector<storage::PgParam>*> rows;
  std::vector<const storage::PipelineCommand*> per_event;  // the same rows, one by one
};

}  // namespace

absl::StatusOr<std::vector<storage::PipelineCommand>> Dispatcher::WaveCommands(
    const std::vector<size_t>& pending) {
  std::vector<storage::PipelineCommand> commands;
  std::vector<std::vector<WaveGroup>> waves;
  absl::flat_hash_map<std::string, int> seen;  // key -> occurrences so far
  auto flush = [&]() -> absl::Status {
    for (std::vector<WaveGroup>& wave : waves) {
      for (WaveGroup& g : wave) {
        if (g.rows.size() == 1) {  // the per-event statement is as good
          commands.push_back(*g.per_event[0]);
          continue;
        }
        absl::StatusOr<storage::PipelineCommand> c =
            t_.sql->BindWave(*g.statement, *g.types, g.rows);
        if (c.ok()) {
          commands.push_back(*std::move(c));
          continue;
        }
        if (Fatal(c.status())) return c.status();
        // No set-based variant for these types: the same rows, one by one (distinct keys).
        for (const storage::PipelineCommand* one : g.per_event) commands.push_back(*one);
      }
    }
    waves.clear();
    seen.clear();
    return absl::OkStatus();
  };
  for (size_t i : pending) {
    SqlItem& item = items_[i].sql;
    if (!item.wave) {
      RETURN_IF_ERROR(flush());
      for (const storage::PipelineCommand& c : item.commands) commands.push_back(c);
      continue;
    }
    for (size_t c = 0; c < item.commands.size(); ++c) {
      const SqlStatements::Wave* wave = t_.sql->WaveOf(*item.statements[c]);
      const int k = seen[*item.commands[c].params[wave->key_parameter]]++;
      if (static_cast<size_t>(k) == waves.size()) waves.emplace_back();
      std::vector<WaveGroup>& groups = waves[k];
      auto g = std::find_if(groups.begin(), groups.end(), [&](const WaveGroup& w) {
        return w.statement == item.statements[c] && *w.types == item.types[c];
      });
      if (g == groups.end()) {
        g = groups.insert(groups.end(), WaveGroup{item.statements[c], &item.types[c], {}, {}});
      }
      g->rows.push_back(&item.commands[c].params);
      g->per_event.push_back(&item.commands[c]);
    }
  }
  RETURN_IF_ERROR(flush());
  return commands;
}

absl::Status Dispatcher::RunSqlSegment(size_t begin, size_t end,
                                       const std::vector<storage::MessageRef>& batch,
                                       bool isolated) {
  if (!isolated) {
    // SQL sees the projection as one-by-one application would have left it: the held rows
    // are written first and forgotten, with the knowledge that the table was emptied: the
    // statements may write any row, which the cache must fetch afterwards.
    absl::Status flushed = t_.cache->Flush();
    if (!flushed.ok()) {
      if (Fatal(flushed)) return flushed;
      fallback_requested_ = true;
      return flushed;
    }
  }
  std::vector<size_t> pending;
  for (size_t i = begin; i < end; ++i) {
    SqlItem& item = items_[i].sql;
    if (item.eval_status.ok()) RETURN_IF_ERROR(BindSql(item));
    if (item.eval_status.ok()) {
      pending.push_back(i);
    } else {
      Record(items_[i], item.eval_status, batch);
    }
  }
  if (isolated) return RunPendingIsolated(pending, batch);
  // Without a savepoint (each is a subtransaction, and rows updated by many of them in one
  // transaction cost PostgreSQL MultiXact lookups on every later update): a failure rolls the
  // epoch back and replays it isolated.
  ASSIGN_OR_RETURN(std::vector<storage::PipelineCommand> commands, WaveCommands(pending));
  ASSIGN_OR_RETURN(std::vector<absl::Status> statuses, storage::RunPipeline(*t_.writer, commands));
  const int first = storage::FirstFailure(statuses);
  if (first < 0) {
    for (size_t i : pending) {
      Record(items_[i], absl::OkStatus(), batch);
      if (items_[i].sql.wave) ++tally_.set_based;
    }
    return absl::OkStatus();
  }
  if (Fatal(statuses[first])) return statuses[first];
  spdlog::warn(
      "Rebuild of {}: a SQL-form statement failed ({}); replaying the last events with "
      "per-event isolation",
      t_.projection, std::string(statuses[first].message()));
  fallback_requested_ = true;
  return statuses[first];
}

// The segment's pipeline in a savepoint; a failing statement's event is skipped and the rest
// re-sent, and after a few failures one event at a time.
absl::Status Dispatcher::RunPendingIsolated(std::vector<size_t>& pending,
                                            const std::vector<storage::MessageRef>& batch) {
  for (int failures = 0; !pending.empty() && failures < kPipelineRetries; ++failures) {
    std::vector<storage::PipelineCommand> commands;
    std::vector<size_t> owner;
    for (size_t i : pending) {
      for (const storage::PipelineCommand& c : items_[i].sql.commands) {
        commands.push_back(c);
        owner.push_back(i);
      }
    }
    int first = -1;
    absl::Status s = storage::InSavepoint(*t_.writer, "pa_segment", [&]() -> absl::Status {
      ASSIGN_OR_RETURN(std::vector<absl::Status> statuses,
                       storage::RunPipeline(*t_.writer, commands));
      first = storage::FirstFailure(statuses);
      return first < 0 ? absl::OkStatus() : statuses[first];
    });
    if (s.ok()) {
      for (size_t i : pending) Record(items_[i], absl::OkStatus(), batch);
      return absl::OkStatus();
    }
    if (Fatal(s) || first < 0) return s;
    Record(items_[owner[first]], s, batch);
    pending.erase(std::find(pending.begin(), pending.end(), owner[first]));
  }
  for (size_t i : pending) {
    absl::Status outcome = storage::InSavepoint(*t_.writer, "pa_event", [&]() -> absl::Status {
      ASSIGN_OR_RETURN(std::vector<absl::Status> statuses,
                       storage::RunPipeline(*t_.writer, items_[i].sql.commands));
      const int first = storage::FirstFailure(statuses);
      return first < 0 ? absl::OkStatus() : statuses[first];
    });
    if (!outcome.ok() && Fatal(outcome)) return outcome;
    Record(items_[i], outcome, batch);
  }
  return absl::OkStatus();
}

}  // namespace protean_admin::rebuild
