#ifndef PROTEAN_ADMIN_SERVER_REBUILD_PLAN_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_PLAN_H_

// The pure part of planning a rebuild (docs/design.md §3, phase 1): from the domain alone,
// which projectors feed the projection, which categories to read and who listens to each,
// what the handlers read and, once the table is known, which columns they write. No I/O.

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/model.h"
#include "server/rebuild/lua_runtime.h"
#include "storage/pg_connection.h"
#include "storage/projection_table.h"

namespace protean_admin::rebuild {

struct RebuildPlan {
  // The projectors feeding the projection, in declaration order (empty: nothing to do).
  std::vector<const domain::Projector*> projectors;
  // The categories they read, each once, in order of first appearance.
  std::vector<std::string> categories;
  // Per category (same order): the indexes of the projectors reading it, in order. One merged
  // read of the categories serves every projector.
  std::vector<std::vector<int>> listeners;
  // Protean's count: the sum over projectors of their categories.
  int categories_processed = 0;
  bool has_action = false;
  bool has_sql = false;
  bool has_lua = false;
  // Message columns some handler reads (:$time, :$message_id; every Lua handler may read
  // meta.time and meta.id); others are not fetched.
  bool reads_time = false;
  bool reads_id = false;
  // The schema the projection's table is looked up in ("" for the connection's search_path)
  // and the URI of its database (the event store's for a cache-backed projection, where its
  // lock is taken).
  std::string schema;
  std::string database_uri;
  // The URI's DefaultedValueNote (domain/env_substitution.h), "" when none.
  std::string database_uri_note;
};

// Connects to `uri`; a failure carries `note` (WithUriNote: the URI built from a default).
absl::StatusOr<storage::PgConnection> ConnectNoted(const std::string& uri, const std::string& note);

// Plans a rebuild of `projection`. FailedPrecondition when its database is not configured.
absl::StatusOr<RebuildPlan> PlanRebuild(const domain::Domain& domain,
                                        const domain::Projection& projection);

// The table columns an action-form handler assigns, by list.
struct HandlerColumns {
  std::vector<int> set, insert, update, increment;
};
using ColumnsByHandler = std::unordered_map<const domain::Handler*, HandlerColumns>;

// The column index of every column each action-form handler of `plan` names. An unknown
// column is FailedPrecondition naming its place (HandlerError).
absl::StatusOr<ColumnsByHandler> ResolveHandlerColumns(const RebuildPlan& plan,
                                                       const storage::TableInfo& table);

// The Lua-form handlers of a rebuild, compiled into the one Lua state of its job.
struct LuaHandlers {
  std::unique_ptr<LuaRuntime> runtime;                   // null when the plan has no Lua handler
  absl::flat_hash_map<const domain::Handler*, int> ids;  // handler -> LuaRuntime::Call id
};

// Compiles every Lua-form handler of `plan` for `table` (its key column: columns[key_index]),
// naming lines of `file`. A syntax error is FailedPrecondition "domain.toml:LINE: projector
// X, event Y: <Lua's message>" (LINE: the line of the error in `file`).
absl::StatusOr<LuaHandlers> CompileLuaHandlers(const RebuildPlan& plan,
                                               const storage::TableInfo& table, int key_index,
                                               const std::string& file, LuaLimits limits = {});

// "domain.toml:27: projector P, event E: <message>" (without the place when it is unknown),
// as FailedPrecondition: a handler that cannot work with the real table or database.
absl::Status HandlerError(const domain::Projector& projector, const domain::Handler& handler,
                          const std::string& where, const std::string& message);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_PLAN_H_
