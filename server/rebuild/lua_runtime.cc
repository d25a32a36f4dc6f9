#include "server/rebuild/lua_runtime.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/rebuild/lua_columns.h"
#include "server/rebuild/lua_context.h"
#include "server/rebuild/lua_date.h"
#include "server/rebuild/lua_decimal.h"
#include "server/rebuild/lua_fields.h"
#include "server/rebuild/lua_json.h"
#include "server/rebuild/lua_rows.h"
#include "server/rebuild/lua_sandbox.h"

namespace protean_admin::rebuild {
namespace {

// Instructions between two runs of the count hook (at most; the last stretch is exact).
constexpr int64_t kHookInterval = 1 << 20;

// Lua's allocator, counting the state's bytes against the memory budget (with the current
// call's row state): a growth beyond it fails, which Lua reports as a memory error after a
// full collection.
void* Allocate(void* ud, void* block, size_t old_size, size_t new_size) {
  auto* ctx = static_cast<LuaContext*>(ud);
  size_t old_bytes = block != nullptr ? old_size : 0;
  if (new_size == 0) {
    std::free(block);
    ctx->memory_used -= old_bytes;
    return nullptr;
  }
  if (new_size > old_bytes &&
      ctx->memory_used + ctx->extra_used + (new_size - old_bytes) > ctx->memory_limit) {
    return nullptr;
  }
  void* resized = std::realloc(block, new_size);
  if (resized == nullptr) return nullptr;
  ctx->memory_used = ctx->memory_used - old_bytes + new_size;
  return resized;
}

void CountHook(lua_State* L, lua_Debug* /*unused*/) {
  LuaContext& ctx = Context(L);
  ctx.instructions_left -= ctx.hook_interval;
  if (ctx.instructions_left > 0) {
    ctx.hook_interval = static_cast<int>(std::min(ctx.instructions_left, kHookInterval));
    lua_sethook(L, CountHook, LUA_MASKCOUNT, ctx.hook_interval);
    return;
  }
  ctx.fatal = LuaContext::Fatal::kInstructions;
  luaL_where(L, 0);  // the running Lua function's place
  lua_pushfstring(L, "instruction budget of %I exceeded",
                  static_cast<LUAI_UACINT>(ctx.instruction_limit));
  lua_concat(L, 2);
  lua_error(L);
}

enum MetaField { kGlobalPosition, kPosition, kTime, kStreamName, kStreamId, kType, kVersion, kId };
constexpr const char* kMetaFields[] = {"global_position", "position", "time",    "stream_name",
                                       "stream_id",       "type",     "version", "id"};

void PushText(lua_State* L, std::string_view text) {
  if (text.empty()) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, text.data(), text.size());
  }
}

int MetaIndex(lua_State* L) {
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNUMBER) {
    return luaL_error(L, "meta has no field '%s'", lua_tostring(L, 2));
  }
  const LuaMeta& meta = *Context(L).meta;
  switch (static_cast<MetaField>(lua_tointeger(L, -1))) {
    case kGlobalPosition:
      lua_pushinteger(L, meta.global_position);
      break;
    case kPosition:
      lua_pushinteger(L, meta.position);
      break;
    case kTime:
      PushText(L, meta.time);
      break;
    case kStreamName:
      PushText(L, meta.stream_name);
      break;
    case kStreamId: {  // Message DB's stream_id(): after the first '-', NULL without one
      size_t dash = meta.stream_name.find('-');
      PushText(L, dash == std::string_view::npos ? "" : meta.stream_name.substr(dash + 1));
      break;
    }
    case kType:
      PushText(L, meta.type);
      break;
    case kVersion:
      lua_pushinteger(L, meta.version);
      break;
    case kId:
      PushText(L, meta.id);
      break;
  }
  return 1;
}

int ModifyMeta(lua_State* L) { return luaL_error(L, "meta is read-only"); }

void PushMeta(lua_State* L) {
  lua_newuserdatauv(L, 0, 0);
  lua_newtable(L);
  lua_createtable(L, 0, std::size(kMetaFields));
  for (size_t i = 0; i < std::size(kMetaFields); ++i) {
    lua_pushinteger(L, static_cast<lua_Integer>(i));
    lua_setfield(L, -2, kMetaFields[i]);
  }
  lua_pushcclosure(L, MetaIndex, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ModifyMeta);
  lua_setfield(L, -2, "__newindex");
  lua_pushliteral(L, "meta");
  lua_setfield(L, -2, "__name");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

int RegisterHandler(lua_State* L) {
  lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
  return 1;
}

std::string ErrorText(lua_State* L) {
  if (lua_type(L, -1) == LUA_TSTRING) return lua_tostring(L, -1);
  return absl::StrCat("error object is a ", luaL_typename(L, -1), " value");
}

}  // namespace

LuaRuntime::LuaRuntime() = default;

LuaRuntime::~LuaRuntime() {
  if (state_ != nullptr) lua_close(state_);
}

absl::StatusOr<std::unique_ptr<LuaRuntime>> LuaRuntime::Create(const storage::TableInfo& table,
                                                               int key_index, LuaLimits limits) {
  if (key_index < 0 || key_index >= static_cast<int>(table.columns.size())) {
    return absl::InvalidArgumentError(absl::StrCat("no key column ", key_index));
  }
  if (limits.instructions_per_call <= 0 || limits.memory_bytes <= 0) {
    return absl::InvalidArgumentError("Lua budgets must be positive");
  }
  std::unique_ptr<LuaRuntime> runtime(new LuaRuntime());
  runtime->context_ = std::make_unique<LuaContext>();
  LuaContext& ctx = *runtime->context_;
  ctx.instruction_limit = limits.instructions_per_call;
  ctx.memory_limit = static_cast<size_t>(limits.memory_bytes);
  for (const storage::ColumnInfo& column : table.columns) {
    runtime->columns_.push_back(LuaColumn::From(column));
  }
  runtime->rows_ = std::make_unique<LuaRowSet>(
      runtime->columns_, key_index, table.qualified.empty() ? table.table : table.qualified);
  ctx.rows = runtime->rows_.get();
  lua_State* L = lua_newstate(Allocate, &ctx);
  if (L == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("memory budget of ", ctx.memory_limit, " bytes cannot hold a Lua state"));
  }
  runtime->state_ = L;
  *static_cast<LuaContext**>(lua_getextraspace(L)) = &ctx;
  lua_pushcfunction(L, Setup);
  lua_pushlightuserdata(L, runtime.get());
  int status = lua_pcall(L, 1, 0, 0);
  if (status != LUA_OK) {
    std::string message = ErrorText(L);
    if (status == LUA_ERRMEM) {
      return absl::ResourceExhaustedError(
          absl::StrCat("memory budget of ", ctx.memory_limit, " bytes cannot hold a Lua state"));
    }
    return absl::InternalError(absl::StrCat("cannot set up the Lua state: ", message));
  }
  return runtime;
}

int LuaRuntime::Setup(lua_State* L) {
  auto* runtime = static_cast<LuaRuntime*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  PushSandboxGlobals(L);
  OpenDecimalLibrary(L);
  lua_setfield(L, 1, "decimal");
  OpenDateLibrary(L);
  lua_setfield(L, 1, "date");
  OpenJsonLibrary(L);
  lua_setfield(L, 1, "array");
  PushNull(L);
  lua_setfield(L, 1, "null");
  runtime->rows_->Open(L);
  lua_setfield(L, 1, "rows");
  PushMeta(L);
  lua_setfield(L, 1, "meta");
  PushReadOnlyProxy(L, 1, nullptr);
  runtime->environment_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  runtime->globals_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

absl::StatusOr<int> LuaRuntime::Compile(std::string_view source, std::string_view file,
                                        int first_line) {
  first_line = std::max(first_line, 1);
  // Lua's line 1 becomes line `first_line` of the file.
  std::string text(first_line - 1, '\n');
  text.append(source);
  std::string chunk_name = absl::StrCat("=", std::string(file));
  lua_State* L = state_;
  lua_settop(L, 0);
  int status = luaL_loadbufferx(L, text.data(), text.size(), chunk_name.c_str(), "t");
  if (status == LUA_OK) {
    lua_pushcfunction(L, RegisterHandler);
    lua_insert(L, 1);
    status = lua_pcall(L, 1, 1, 0);
  }
  if (status != LUA_OK) {
    std::string message = ErrorText(L);
    lua_settop(L, 0);
    if (status == LUA_ERRMEM) {
      return absl::ResourceExhaustedError(absl::StrCat(std::string(file), ":", first_line,
                                                       ": memory budget of ",
                                                       context_->memory_limit, " bytes exceeded"));
    }
    return absl::InvalidArgumentError(message);
  }
  int ref = static_cast<int>(lua_tointeger(L, -1));
  lua_settop(L, 0);
  handlers_.push_back(Handler{ref, std::string(file), first_line, EventFieldsRead(source)});
  return static_cast<int>(handlers_.size()) - 1;
}

int LuaRuntime::RunCall(lua_State* L) {
  auto* runtime = static_cast<LuaRuntime*>(lua_touserdata(L, 1));
  runtime->rows_->BeginLua(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, runtime->globals_ref_);  // 2
  Handler& handler = runtime->handlers_[runtime->handler_];
  if (handler.event_fields) {
    if (handler.event_ref == LUA_NOREF) {
      lua_createtable(L, 0, static_cast<int>(handler.event_fields->size()));
      handler.event_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, handler.event_ref);  // 3
    // An empty payload: every field nil, as in an empty table.
    if (!PushJsonFields(L, runtime->payload_.empty() ? "{}" : runtime->payload_,
                        *handler.event_fields, 3)) {
      return luaL_error(L, "event payload: %s", Context(L).error.c_str());
    }
    lua_remove(L, 3);
  } else if (runtime->payload_.empty()) {
    lua_newtable(L);
  } else if (!PushJsonText(L, runtime->payload_)) {
    return luaL_error(L, "event payload: %s", Context(L).error.c_str());
  }
  if (IsNull(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  lua_setfield(L, 2, "event");
  lua_rawgeti(L, LUA_REGISTRYINDEX, handler.function_ref);
  // Reset on every call: a handler assigning _ENV must not change the next call's.
  lua_rawgeti(L, LUA_REGISTRYINDEX, runtime->environment_ref_);
  lua_setupvalue(L, -2, 1);
  lua_call(L, 0, 0);
  runtime->rows_->Finish(L);
  return 0;
}

absl::Status LuaRuntime::Call(int id, std::string_view payload_json, const LuaMeta& meta,
                              LuaRowSource& rows, std::vector<LuaRowChange>& changes) {
  changes.clear();
  if (id < 0 || id >= static_cast<int>(handlers_.size())) {
    return absl::InvalidArgumentError(absl::StrCat("no Lua handler ", id));
  }
  LuaContext& ctx = *context_;
  ctx.fatal = LuaContext::Fatal::kNone;
  ctx.meta = &meta;
  ctx.extra_used = 0;
  ctx.instructions_left = ctx.instruction_limit;
  ctx.hook_interval = static_cast<int>(std::min(ctx.instruction_limit, kHookInterval));
  lua_sethook(state_, CountHook, LUA_MASKCOUNT, ctx.hook_interval);
  rows_->Begin(&rows);
  payload_ = payload_json;
  handler_ = id;
  lua_settop(state_, 0);
  lua_pushcfunction(state_, RunCall);
  lua_pushlightuserdata(state_, this);
  int status = lua_pcall(state_, 1, 0, 0);
  ctx.meta = nullptr;
  if (status != LUA_OK) {
    absl::Status failure = Failure(status);
    lua_settop(state_, 0);
    ctx.extra_used = 0;
    if (absl::IsResourceExhausted(failure)) lua_gc(state_, LUA_GCCOLLECT);
    return failure;
  }
  rows_->Emit(changes);
  ctx.extra_used = 0;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LuaRowChange>> LuaRuntime::Call(int id, std::string_view payload_json,
                                                           const LuaMeta& meta,
                                                           LuaRowSource& rows) {
  std::vector<LuaRowChange> changes;
  absl::Status status = Call(id, payload_json, meta, rows, changes);
  if (!status.ok()) return status;
  return changes;
}

absl::Status LuaRuntime::Failure(int status) {
  const LuaContext& ctx = *context_;
  const Handler& handler = handlers_[handler_];
  std::string message = ErrorText(state_);
  absl::StatusCode code = absl::StatusCode::kInvalidArgument;
  if (status == LUA_ERRMEM || ctx.fatal == LuaContext::Fatal::kMemory) {
    code = absl::StatusCode::kResourceExhausted;
    if (status == LUA_ERRMEM || message == "not enough memory") {
      message = absl::StrCat("memory budget of ", ctx.memory_limit, " bytes exceeded");
    }
  } else if (ctx.fatal == LuaContext::Fatal::kInstructions) {
    code = absl::StatusCode::kResourceExhausted;
  } else if (ctx.fatal == LuaContext::Fatal::kRowSource) {
    code = rows_->source_error().code();
  }
  // Lua names the chunk by at most LUA_IDSIZE - 1 characters of the file.
  std::string_view place = std::string_view(handler.file).substr(0, LUA_IDSIZE - 1);
  if (!absl::StartsWith(message, absl::StrCat(std::string(place), ":"))) {
    message = absl::StrCat(handler.file, ":", handler.first_line, ": ", message);
  }
  return absl::Status(code, message);
}

size_t LuaRuntime::memory_bytes() const { return context_->memory_used; }

}  // namespace protean_admin::rebuild
