#ifndef PROTEAN_ADMIN_SERVER_REBUILD_LUA_SANDBOX_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_LUA_SANDBOX_H_

// The standard library as Lua handlers see it: deterministic (a replay computes the same
// rows) and isolated (nothing outside the handler's rows, nothing kept between events).
//
// Available: assert error getmetatable ipairs pcall rawequal rawget rawlen select tonumber
// type _VERSION, and string, table, math, utf8 as read-only tables; `string.format("%p")`,
// `string.dump`, `math.random` and `math.randomseed` are not. Changed: `pairs` visits keys in
// a fixed order (numbers ascending, then strings bytewise, then false, true; other key types
// raise), `tostring` and `string.format("%s")` give "table" / "function" without an address,
// `table.sort` is a stable merge sort (Lua's randomises pivots), `setmetatable` refuses __gc
// and __mode (finalizers and weak tables depend on when the collector runs), `pcall` cannot
// catch a budget error (nor a failing row read). Absent: io, os, require, package, load,
// loadstring, loadfile, dofile, debug, collectgarbage, print (handlers have no output: their
// errors are the event's skip reason), next, rawset, xpcall, coroutine, warn.
// Library tables cannot be modified, the string metatable is protected (getmetatable("") is
// false), and handlers' globals are read-only ("assignment to global 'x'").

#include <lua.hpp>

namespace protean_admin::rebuild {

// Opens the libraries and pushes the table of handlers' globals; the runtime adds its own
// (rows, meta, event, ...) to it.
void PushSandboxGlobals(lua_State* L);

// Pushes a proxy of the table at `index` that reads through to it and refuses assignment:
// "attempt to modify read-only table '<name>'", or for `name` nullptr (the globals)
// "assignment to global '<key>'".
void PushReadOnlyProxy(lua_State* L, int index, const char* name);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_LUA_SANDBOX_H_
