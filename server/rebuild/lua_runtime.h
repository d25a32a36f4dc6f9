#ifndef PROTEAN_ADMIN_SERVER_REBUILD_LUA_RUNTIME_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_LUA_RUNTIME_H_

// The Lua form of projector handlers (issue 16): one Lua 5.4 state per rebuild job, its
// handlers compiled up front, each event's handler run against the projection's rows with
// bounded instructions and memory, its row writes handed out only when it succeeds.
//
// What a handler sees (its globals are read-only: assigning one raises "assignment to
// global 'x'", since state kept across events would break replays):
//   rows[k]            the row of key k (a string, or a number: its integer text) as an
//                      object whose fields are the columns, or nil. Assigning a field updates
//                      the column; `rows[k] = { col = v, ... }` creates or replaces the row
//                      (the key column is set from k, columns not given take their defaults
//                      and read as nil until written); `rows[k] = nil` deletes it.
//                      pairs(row) gives its non-NULL columns in table order. A row read
//                      before rows[k] was replaced or deleted raises when used.
//   event              the (upcast) JSON payload as tables (lua_json.h).
//   meta               global_position, position, time, stream_name, stream_id, type,
//                      version, id of the stored message (read-only).
//   decimal(x), null, array(t), date.day/month/format   (lua_decimal.h, lua_json.h,
//                      lua_date.h); column values as lua_columns.h describes.
//   the standard library, deterministic and isolated (lua_sandbox.h): no io, os, require,
//                      load, dofile, debug, collectgarbage, print, coroutines, string.dump,
//                      math.random; pairs() in a fixed order; table.sort stable.
//
// A handler that raises, or exceeds the instruction budget of one call or the memory budget
// of the state, fails its event: Call returns the reason with the handler's place
// ("domain.toml:31: attempt to index a nil value (local 'r')") and none of its writes; the
// state stays usable for the next events. A LuaRuntime is used by one thread at a time;
// separate runtimes share nothing and run concurrently.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/projection_store.h"
#include "storage/projection_table.h"

struct lua_State;

namespace protean_admin::rebuild {

struct LuaContext;
struct LuaColumn;
class LuaRowSet;

struct LuaLimits {
  int64_t instructions_per_call = 10'000'000;  // Lua VM instructions per Call
  int64_t memory_bytes = int64_t{64} << 20;    // Lua memory of the job, plus a Call's rows
};

// What a handler sees of the projection's rows: the engine implements it over its row
// cache, tests over a map. Cells are column values as text in table order, nullopt for NULL
// (storage::Cell), as RowCache and ProjectionStore hold them.
class LuaRowSource {
 public:
  virtual ~LuaRowSource() = default;
  // The current row of `key` into `cells` (one per column; the vector is reused, so fill it
  // completely) and true, or false when there is none. Called at most once per key and
  // Call, for keys the handler reads before writing them. `key` is as the handler wrote it
  // (its integer text for numbers), canonical for integer and numeric key columns. An error
  // fails the event: Call returns it with its code.
  virtual absl::StatusOr<bool> Get(std::string_view key, std::vector<storage::Cell>& cells) = 0;
};

// One key's state after a successful Call, for each key the call wrote.
struct LuaRowChange {
  std::string key;
  bool present = false;  // false: the row is deleted (no row of this key remains)
  // The row was created or replaced by this call: the columns not `assigned` take their
  // defaults (their cells are nullopt). Otherwise the row existed and is updated.
  bool fresh = false;
  std::vector<storage::Cell> cells;  // present: every column, in table order
  std::vector<bool> assigned;        // present: the columns this call gave a value
};

// The stored message of the event (from storage::MessageRef; empty strings read as nil).
struct LuaMeta {
  int64_t global_position = 0;
  int64_t position = 0;
  std::string_view time;  // "2024-05-01 12:34:56.789" (UTC)
  std::string_view stream_name;
  std::string_view type;
  std::string_view id;
  int version = 0;  // of the stored message, before upcasting
};

class LuaRuntime {
 public:
  // A state for the projection table `table`, whose key column is columns[key_index].
  // InvalidArgument for a bad key index or limits; ResourceExhausted when memory_bytes
  // cannot even hold the state.
  static absl::StatusOr<std::unique_ptr<LuaRuntime>> Create(const storage::TableInfo& table,
                                                            int key_index, LuaLimits limits = {});
  ~LuaRuntime();
  LuaRuntime(const LuaRuntime&) = delete;
  LuaRuntime& operator=(const LuaRuntime&) = delete;

  // Compiles a handler whose first line is line `first_line` of `file` (for a TOML
  // multi-line string starting with a newline: the line after the opening quotes), so that
  // its errors read "<file>:<first_line + lua line - 1>: ...". Returns its id. A syntax error
  // is InvalidArgument with that place ("domain.toml:33: unexpected symbol near 'x'").
  absl::StatusOr<int> Compile(std::string_view source, std::string_view file, int first_line);

  // Runs handler `id` for one event (`payload_json`: the upcast payload; empty for none) and
  // replaces `changes` with the keys it wrote, in first-write order (the vector and its
  // elements' buffers are reused across calls). On failure `changes` is empty and the reason
  // is returned: InvalidArgument for an error raised by the handler or a value a column
  // refuses, ResourceExhausted for a budget, the source's code for a LuaRowSource error.
  absl::Status Call(int id, std::string_view payload_json, const LuaMeta& meta, LuaRowSource& rows,
                    std::vector<LuaRowChange>& changes);
  absl::StatusOr<std::vector<LuaRowChange>> Call(int id, std::string_view payload_json,
                                                 const LuaMeta& meta, LuaRowSource& rows);

  // Bytes the Lua state holds now.
  size_t memory_bytes() const;

 private:
  struct Handler {
    int function_ref;
    std::string file;
    int first_line;
    // The payload fields the handler can read (lua_fields.h), decoded into a table reused
    // by its calls (created by its first call); nullopt: a new table of the whole payload.
    std::optional<std::vector<std::string>> event_fields;
    int event_ref = -2;  // LUA_NOREF
  };

  LuaRuntime();
  static int Setup(lua_State* L);
  static int RunCall(lua_State* L);
  absl::Status Failure(int status);

  std::unique_ptr<LuaContext> context_;
  std::vector<LuaColumn> columns_;
  std::unique_ptr<LuaRowSet> rows_;
  lua_State* state_ = nullptr;
  int globals_ref_ = -1;      // the table behind handlers' globals
  int environment_ref_ = -1;  // its read-only proxy: every handler's _ENV
  std::vector<Handler> handlers_;
  // The current call.
  std::string_view payload_;
  int handler_ = -1;
};

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_LUA_RUNTIME_H_
