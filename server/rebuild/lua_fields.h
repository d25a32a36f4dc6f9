#ifndef PROTEAN_ADMIN_SERVER_REBUILD_LUA_FIELDS_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_LUA_FIELDS_H_

// Which payload fields a Lua handler can reach (internal to lua_runtime.cc), so that a call
// decodes only those into its `event` table instead of the whole payload.
//
// The scan is of the handler's tokens (Lua 5.4's lexical rules: comments, short and long
// strings, numerals). It answers with the field names only when every mention of the name
// `event` that is not itself a field or method name (`x.event`, `x:event`) is followed by
// `.name`: then the handler can observe the `event` table only through those fields, and a
// table holding exactly them (absent ones nil, as in the full table) is indistinguishable
// from the whole payload. Any other use (`pairs(event)`, `event[k]`, `f(event)`, a local or
// parameter named event, a label) and any mention of `_ENV` or `_G` (another way to reach the
// global) gives nullopt: decode everything.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace protean_admin::rebuild {

// The distinct names of `event.name` in `source` (in first-use order), or nullopt when the
// handler may use `event` otherwise (see above). `source` is a chunk Lua compiled.
std::optional<std::vector<std::string>> EventFieldsRead(std::string_view source);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_LUA_FIELDS_H_
