// lua_call_bench: nanoseconds per LuaRuntime::Call for the benchmark's Balances projection
// (bench/domain.toml) written in the Lua form, without a database: the rows live in a hash
// map standing in for the engine's row cache, and each call's changes are applied to it as
// the engine would. Run a Release build:
//   lua_call_bench [--events N] [--users U]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "server/rebuild/lua_runtime.h"

namespace protean_admin::rebuild {
namespace {

constexpr char kRegistered[] = R"(rows[event.user_id] = {name = event.name, balance = 0})";
constexpr char kTransacted[] = R"(
local r = rows[event.user_id]
if r then
  r.balance = r.balance + event.amount
else
  rows[event.user_id] = {name = "", balance = event.amount}
end
)";

constexpr char kRegisteredWhole[] =
    R"(rows[event.user_id] = {name = event.name, balance = 0}
if false then local e = event end)";
constexpr char kTransactedWhole[] = R"(
local r = rows[event.user_id]
if r then
  r.balance = r.balance + event.amount
else
  rows[event.user_id] = {name = "", balance = event.amount}
end
if false then local e = event end
)";

storage::ColumnInfo Column(const char* name, const char* type_sql, const char* type_name,
                           int32_t typmod) {
  storage::ColumnInfo column;
  column.name = name;
  column.type_sql = type_sql;
  column.type_name = type_name;
  column.typmod = typmod;
  return column;
}

class MapSource : public LuaRowSource {
 public:
  absl::StatusOr<bool> Get(std::string_view key, std::vector<storage::Cell>& cells) override {
    auto it = rows.find(absl::string_view(key.data(), key.size()));
    if (it == rows.end()) return false;
    cells = it->second;
    return true;
  }
  void Apply(const std::vector<LuaRowChange>& changes) {
    for (const LuaRowChange& change : changes) {
      if (!change.present) {
        rows.erase(change.key);
      } else {
        rows[change.key] = change.cells;
      }
    }
  }
  absl::flat_hash_map<std::string, std::vector<storage::Cell>> rows;
};

struct Workload {
  std::vector<std::string> payloads;
  std::vector<int> handler;  // 0 registered, 1 transacted
};

std::string Uuid(std::mt19937_64& random) {
  return absl::StrFormat("%08x-%04x-4%03x-a%03x-%012x", random() & 0xffffffff, random() & 0xffff,
                         random() & 0xfff, random() & 0xfff, random() & 0xffffffffffffULL);
}

Workload MakeWorkload(int events, int users) {
  std::mt19937_64 random(42);
  std::vector<std::string> ids;
  Workload w;
  for (int i = 0; i < events; ++i) {
    if (static_cast<int>(ids.size()) < users && (ids.empty() || random() % 10 == 0)) {
      ids.push_back(Uuid(random));
      w.payloads.push_back(
          absl::StrFormat(R"({"user_id": "%s", "email": "user%d@example.com", "name": "User %d"})",
                          ids.back(), i, i));
      w.handler.push_back(0);
      continue;
    }
    double amount = static_cast<double>(static_cast<int64_t>(random() % 200001) - 100000) / 100;
    w.payloads.push_back(absl::StrFormat(R"({"user_id": "%s", "amount": %.2f, "currency": "USD"})",
                                         ids[random() % ids.size()], amount));
    w.handler.push_back(1);
  }
  return w;
}

// Runs every event through `handlers` (one id per workload handler); ns per call. `source`
// starts with every user's row when `prefill`.
double Measure(LuaRuntime& runtime, const Workload& w, const int handlers[2], bool apply,
               bool prefill) {
  MapSource source;
  if (prefill) {
    for (const std::string& payload : w.payloads) {
      std::string user = payload.substr(13, 36);
      source.rows[user] = {user, "User", "12.5"};
    }
  }
  LuaMeta meta;
  meta.stream_name = "bank::transaction-1";
  meta.type = "Bank.Transacted.v2";
  std::vector<LuaRowChange> changes;
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < w.payloads.size(); ++i) {
    meta.global_position = static_cast<int64_t>(i) + 1;
    absl::Status status =
        runtime.Call(handlers[w.handler[i]], w.payloads[i], meta, source, changes);
    if (!status.ok()) {
      std::fprintf(stderr, "event %zu: %s\n", i, std::string(status.message()).c_str());
      std::exit(1);
    }
    if (apply) source.Apply(changes);
  }
  std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / static_cast<double>(w.payloads.size());
}

int Main(int argc, char** argv) {
  int events = 1'000'000, users = 100'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--events") == 0) events = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--users") == 0) users = std::atoi(argv[i + 1]);
  }
  storage::TableInfo table;
  table.table = "balances";
  table.columns = {Column("user_id", "character varying(255)", "varchar", 259),
                   Column("name", "character varying(255)", "varchar", 259),
                   Column("balance", "double precision", "float8", -1)};
  auto runtime = LuaRuntime::Create(table, 0);
  if (!runtime.ok()) return 1;
  struct Variant {
    const char* name;
    const char* registered;
    const char* transacted;
    bool apply;
    bool prefill;
  } variants[] = {
      {"empty handler (call, payload to event)", "local x = 1", "local x = 1", false, false},
      {"rows[k] of an absent row", "local r = rows[event.user_id]", "local r = rows[event.user_id]",
       false, false},
      {"rows[k] of a present row", "local r = rows[event.user_id]", "local r = rows[event.user_id]",
       false, true},
      {"... and r.balance read", "local r = rows[event.user_id]",
       "local r = rows[event.user_id]; local b = r.balance", false, true},
      {"... and r.balance written", "local r = rows[event.user_id]",
       "local r = rows[event.user_id]; r.balance = r.balance + event.amount", false, true},
      {"Balances (call only, rows present)", kRegistered, kTransacted, false, true},
      {"Balances, changes applied to the map", kRegistered, kTransacted, true, false},
      // The same with the whole payload decoded into `event` (a use other than event.<name>
      // turns the decoding of the read fields only off: server/rebuild/lua_fields.h).
      {"Balances, whole payload decoded", kRegisteredWhole, kTransactedWhole, true, false},
  };
  Workload w = MakeWorkload(events, users);
  std::printf("%d events, %zu bytes of payload on average\n", events, [&] {
    size_t total = 0;
    for (const std::string& p : w.payloads) total += p.size();
    return total / w.payloads.size();
  }());
  const char* only = std::getenv("LUA_BENCH_ONLY");  // runs that variant alone (profiling)
  for (const Variant& v : variants) {
    if (only != nullptr && std::strstr(v.name, only) == nullptr) continue;
    int ids[2] = {*(*runtime)->Compile(v.registered, "bench", 1),
                  *(*runtime)->Compile(v.transacted, "bench", 1)};
    Measure(**runtime, w, ids, v.apply, v.prefill);  // warm up
    double best = 1e300;
    for (int run = 0; run < 3; ++run) {
      best = std::min(best, Measure(**runtime, w, ids, v.apply, v.prefill));
    }
    std::printf("%-42s %7.0f ns per call (Lua memory now %zu KiB)\n", v.name, best,
                (*runtime)->memory_bytes() / 1024);
  }
  return 0;
}

}  // namespace
}  // namespace protean_admin::rebuild

int main(int argc, char** argv) { return protean_admin::rebuild::Main(argc, argv); }
