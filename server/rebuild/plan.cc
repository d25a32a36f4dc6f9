#include "server/rebuild/plan.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "domain/env_substitution.h"

namespace protean_admin::rebuild {
namespace {

bool ReadsAttribute(const domain::Handler& h, domain::MessageAttribute attribute) {
  auto reads = [&](const domain::Parameter& p) { return p.attribute == attribute; };
  for (const domain::SqlStatement& s : h.sql) {
    for (const domain::Parameter& p : s.parameters) {
      if (reads(p)) return true;
    }
  }
  if (h.key.parameter && reads(*h.key.parameter)) return true;
  for (const auto* list : {&h.set, &h.insert, &h.update, &h.increment}) {
    for (const auto& [column, value] : *list) {
      if (value.parameter && reads(*value.parameter)) return true;
    }
  }
  return false;
}

void AddListener(RebuildPlan& plan, absl::flat_hash_map<std::string, int>& index,
                 const std::string& category, int projector) {
  auto [it, added] = index.emplace(category, static_cast<int>(plan.categories.size()));
  if (added) {
    plan.categories.push_back(category);
    plan.listeners.emplace_back();
  }
  std::vector<int>& list = plan.listeners[it->second];
  if (list.empty() || list.back() != projector) list.push_back(projector);
}

absl::Status ResolveDatabase(const domain::Domain& domain, const domain::Projection& projection,
                             RebuildPlan& plan) {
  if (projection.cache_backed()) {
    plan.database_uri = domain.event_store.database_uri;
    plan.database_uri_note = domain.event_store.uri_note;
    return absl::OkStatus();
  }
  const domain::DatabaseConfig* database = domain.FindDatabase(projection.database);
  if (database == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("Projection '", projection.name,
                                                      "': database '", projection.database,
                                                      "' is not configured"));
  }
  plan.schema = !projection.schema.empty() ? projection.schema : database->schema;
  plan.database_uri = database->database_uri;
  plan.database_uri_note = database->uri_note;
  return absl::OkStatus();
}

// Lua's messages start with their place, "<chunk>:<line>: " (the chunk: `file`, possibly
// truncated): that becomes `where` ("<file>:<line>") and is removed from `message`.
void SplitLuaPlace(const std::string& file, std::string& where, std::string_view& message) {
  for (size_t colon = message.find(':'); colon != std::string_view::npos;
       colon = message.find(':', colon + 1)) {
    if (colon > file.size() || file.compare(0, colon, message.substr(0, colon)) != 0) return;
    const size_t end = message.find(": ", colon + 1);
    if (end == std::string_view::npos || end == colon + 1) continue;
    const std::string_view line = message.substr(colon + 1, end - colon - 1);
    if (line.find_first_not_of("0123456789") != std::string_view::npos) continue;
    where = absl::StrCat(file, ":", std::string(line));
    message.remove_prefix(end + 2);
    return;
  }
}

}  // namespace

absl::StatusOr<RebuildPlan> PlanRebuild(const domain::Domain& domain,
                                        const domain::Projection& projection) {
  RebuildPlan plan;
  plan.projectors = domain.ProjectorsFor(projection.name);
  absl::flat_hash_map<std::string, int> category_index;
  for (size_t i = 0; i < plan.projectors.size(); ++i) {
    const domain::Projector& p = *plan.projectors[i];
    plan.categories_processed += static_cast<int>(p.categories.size());
    for (const std::string& c : p.categories) {
      AddListener(plan, category_index, c, static_cast<int>(i));
    }
    for (const domain::Handler& h : p.handlers) {
      plan.has_action |= h.form == domain::Handler::Form::kAction;
      plan.has_sql |= h.form == domain::Handler::Form::kSql;
      const bool lua = h.form == domain::Handler::Form::kLua;
      plan.has_lua |= lua;
      plan.reads_time |= lua || ReadsAttribute(h, domain::MessageAttribute::kTime);
      plan.reads_id |= lua || ReadsAttribute(h, domain::MessageAttribute::kMessageId);
    }
  }
  absl::Status database = ResolveDatabase(domain, projection, plan);
  if (!database.ok()) return database;
  return plan;
}

absl::StatusOr<ColumnsByHandler> ResolveHandlerColumns(const RebuildPlan& plan,
                                                       const storage::TableInfo& table) {
  ColumnsByHandler out;
  for (const domain::Projector* p : plan.projectors) {
    for (const domain::Handler& h : p->handlers) {
      if (h.form != domain::Handler::Form::kAction) continue;
      HandlerColumns& hc = out[&h];
      for (auto [list, indexes] :
           {std::pair{&h.set, &hc.set}, std::pair{&h.insert, &hc.insert},
            std::pair{&h.update, &hc.update}, std::pair{&h.increment, &hc.increment}}) {
        for (const auto& [column, value] : *list) {
          const int index = table.ColumnIndex(column);
          if (index < 0) {
            return HandlerError(*p, h, h.where,
                                absl::StrCat("table ", table.qualified, " has no column ", column));
          }
          indexes->push_back(index);
        }
      }
    }
  }
  return out;
}

absl::StatusOr<LuaHandlers> CompileLuaHandlers(const RebuildPlan& plan,
                                               const storage::TableInfo& table, int key_index,
                                               const std::string& file, LuaLimits limits) {
  LuaHandlers out;
  if (!plan.has_lua) return out;
  ASSIGN_OR_RETURN(out.runtime, LuaRuntime::Create(table, key_index, limits));
  for (const domain::Projector* p : plan.projectors) {
    for (const domain::Handler& h : p->handlers) {
      if (h.form != domain::Handler::Form::kLua) continue;
      absl::StatusOr<int> id = out.runtime->Compile(h.lua, file, h.lua_line);
      if (id.ok()) {
        out.ids.emplace(&h, *id);
        continue;
      }
      std::string where = h.where;
      const std::string text(id.status().message());
      std::string_view message = text;
      SplitLuaPlace(file, where, message);
      return HandlerError(*p, h, where, std::string(message));
    }
  }
  return out;
}

absl::Status HandlerError(const domain::Projector& projector, const domain::Handler& handler,
                          const std::string& where, const std::string& message) {
  return absl::FailedPreconditionError(absl::StrCat(where, where.empty() ? "" : ": ", "projector ",
                                                    projector.name, ", event ", handler.event, ": ",
                                                    message));
}

absl::StatusOr<storage::PgConnection> ConnectNoted(const std::string& uri,
                                                   const std::string& note) {
  absl::StatusOr<storage::PgConnection> conn = storage::PgConnection::Connect(uri);
  if (!conn.ok()) return domain::WithUriNote(conn.status(), note);
  return conn;
}

}  // namespace protean_admin::rebuild
