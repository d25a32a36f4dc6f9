#include "bench/runner.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/baselines.h"
#include "bench/process.h"
#include "storage/pg_connection.h"

namespace protean_admin::bench {
namespace {

using storage::PgConnection;

constexpr char kReferenceTable[] = "balances_reference";
constexpr char kFloorTable[] = "balances_floor";
constexpr char kFloorSampleTable[] = "balances_floor_sample";
constexpr char kPerEventTable[] = "balances_per_event";
constexpr char kActionTable[] = "balances_action";  // bench/domain.toml, instance "action"
constexpr char kSqlTable[] = "balances_sql";        // bench/domain.toml, instance "sql"
constexpr char kLuaTable[] = "balances_lua";        // bench/domain.toml, instance "lua"

// "result seconds=1.5 dispatched=10 ... errors=..." -> key/value map (errors takes the rest).
std::map<std::string, std::string> ParseResultLine(const std::string& out) {
  std::map<std::string, std::string> values;
  size_t at = out.find("result ");
  if (at == std::string::npos) return values;
  std::string line = out.substr(at + 7, out.find('\n', at) - at - 7);
  size_t errors = line.find("errors=");
  if (errors != std::string::npos) {
    values["errors"] = line.substr(errors + 7);
    line = line.substr(0, errors);
  }
  std::istringstream tokens(line);
  for (std::string token; tokens >> token;) {
    size_t eq = token.find('=');
    if (eq != std::string::npos) values[token.substr(0, eq)] = token.substr(eq + 1);
  }
  return values;
}

absl::Status Check(PgConnection& conn, std::string_view table, std::string_view reference,
                   MethodResult& method) {
  auto differences = CountDifferences(conn, table, reference);
  if (!differences.ok()) return differences.status();
  method.differences = *differences;
  method.correct = *differences == 0;
  if (!method.correct) {
    method.note = absl::StrCat(*differences, " rows differ from ", std::string(reference));
  }
  return absl::OkStatus();
}

// The table an engine run rebuilds, holding one stale row: a table left as it was must not
// pass the check.
absl::Status CreateStaleTable(PgConnection& conn, std::string_view table) {
  absl::Status created = CreateBalancesTable(conn, table);
  if (!created.ok()) return created;
  auto stale = conn.Exec(absl::StrCat("INSERT INTO ", conn.QuoteIdentifier(table),
                                      " VALUES ('stale-id', 'stale', 999.0)"));
  return stale.ok() ? absl::OkStatus() : stale.status();
}

absl::StatusOr<MethodResult> RunEngine(PgConnection& conn, const RunnerOptions& options,
                                       std::string_view instance, std::string_view table,
                                       std::string label, int64_t events, int64_t unknown,
                                       const std::vector<std::string>& extra_args = {}) {
  MethodResult method;
  method.label = std::move(label);
  method.events = events;
  if (options.rebuild_bin.empty()) {
    method.note = "pending: the engine (RebuildProjection) was not built";
    return method;
  }
  absl::Status prepared = CreateStaleTable(conn, table);
  if (!prepared.ok()) return prepared;
  std::vector<std::string> args = {options.rebuild_bin,
                                   "--domain-file",
                                   options.domain_file,
                                   "--instance",
                                   std::string(instance),
                                   "--projection",
                                   "Balances",
                                   "--message-db-url",
                                   options.uri,
                                   "--database-url",
                                   options.uri,
                                   "--batch-size",
                                   std::to_string(options.batch_size)};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto child = RunChild(args);
  if (!child.ok()) return child.status();
  auto values = ParseResultLine(child->out);
  method.peak_rss_kib = child->maxrss_kib;
  if (child->exit_code != 0 || values.count("seconds") == 0) {
    method.note = absl::StrCat("rebuild_bench failed (exit ", child->exit_code, ")",
                               values.count("errors") ? ": " + values["errors"] : "");
    return method;
  }
  method.ran = true;
  method.seconds = std::strtod(values["seconds"].c_str(), nullptr);
  method.dispatched = std::strtoll(values["dispatched"].c_str(), nullptr, 10);
  method.skipped = std::strtoll(values["skipped"].c_str(), nullptr, 10);
  absl::Status checked = Check(conn, table, kReferenceTable, method);
  if (!checked.ok()) return checked;
  // Every event of the two categories is dispatched except the unknown ones, skipped.
  if (method.dispatched != events - unknown || method.skipped != unknown) {
    method.correct = false;
    absl::StrAppend(&method.note, method.note.empty() ? "" : "; ", "counts: dispatched ",
                    method.dispatched, " skipped ", method.skipped, ", expected ", events - unknown,
                    " and ", unknown);
  }
  return method;
}

// The fastest of `runs` runs, each checked: a run that fails or is wrong is the result at
// once. The peak RSS is the largest of the runs.
template <typename Run>
absl::StatusOr<MethodResult> BestOf(int runs, Run run) {
  absl::StatusOr<MethodResult> best;
  long peak = -1;
  for (int i = 0; i < std::max(1, runs); ++i) {
    absl::StatusOr<MethodResult> result = run();
    if (!result.ok() || !result->ran || !result->correct) return result;
    peak = std::max(peak, result->peak_rss_kib);
    if (i == 0 || result->seconds < best->seconds) best = std::move(result);
  }
  best->peak_rss_kib = peak;
  return best;
}

// (a) through protean-admind and protean-admin: the daemon is started on a Unix socket
// with the database bound through MESSAGE_DB_URL / DATABASE_URL, the CLI rebuilds Balances
// of the domain file's "action" instance, and the daemon's VmHWM is read before SIGTERM.
absl::StatusOr<MethodResult> RunThroughDaemon(PgConnection& conn, const RunnerOptions& options,
                                              int64_t events) {
  MethodResult method;
  method.label = "(a) the same through protean-admind + protean-admin";
  method.events = events;
  if (options.daemon_bin.empty() || options.cli_bin.empty()) {
    method.note = "not run: protean-admind or protean-admin not given";
    return method;
  }
  absl::Status prepared = CreateStaleTable(conn, kActionTable);
  if (!prepared.ok()) return prepared;
  std::error_code ec;
  std::filesystem::path dir =
      std::filesystem::temp_directory_path(ec) / absl::StrCat("protean-bench-", getpid());
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir.string()));
  const std::string server = absl::StrCat("unix:", (dir / "admind.sock").string());
  const std::string log = (dir / "admind.log").string();
  std::filesystem::path domain = std::filesystem::absolute(options.domain_file);
  auto pid = SpawnChild(
      {options.daemon_bin, "--listen", server, "--domain-root", domain.parent_path().string()},
      {{"MESSAGE_DB_URL", options.uri}, {"DATABASE_URL", options.uri}}, log);
  if (!pid.ok()) return pid.status();
  auto stop = [&] {
    kill(*pid, SIGTERM);
    int status = 0;
    waitpid(*pid, &status, 0);
    std::filesystem::remove_all(dir, ec);
  };
  bool ready = false;
  for (int i = 0; i < 200 && !ready; ++i) {
    auto jobs = RunChild({options.cli_bin, "jobs", "--server", server}, /*quiet=*/true);
    ready = jobs.ok() && jobs->exit_code == 0;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!ready) {
    stop();
    method.note = "protean-admind did not answer within 10 s";
    return method;
  }
  const long idle_rss = PeakRssOf(*pid);
  auto start = std::chrono::steady_clock::now();
  auto cli = RunChild({options.cli_bin, "rebuild", "--server", server, "--domain",
                       absl::StrCat(domain.filename().string(), ":action"), "--projection",
                       "Balances", "--batch-size", std::to_string(options.batch_size)},
                      /*quiet=*/true);  // the progress lines
  method.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  method.peak_rss_kib = PeakRssOf(*pid);
  stop();
  if (!cli.ok()) return cli.status();
  if (cli->exit_code != 0) {
    method.note =
        absl::StrCat("protean-admin rebuild failed (exit ", cli->exit_code, "): ", cli->out);
    return method;
  }
  method.ran = true;
  absl::Status checked = Check(conn, kActionTable, kReferenceTable, method);
  if (!checked.ok()) return checked;
  if (method.correct) {
    method.note =
        absl::StrFormat("daemon's VmHWM; %.1f MiB idle before the rebuild", idle_rss / 1024.0);
  }
  return method;
}

std::string Rate(double rate) {
  if (rate <= 0) return "-";
  if (rate >= 1e6) return absl::StrFormat("%.2fM", rate / 1e6);
  if (rate >= 1e3) return absl::StrFormat("%.1fk", rate / 1e3);
  return absl::StrFormat("%.0f", rate);
}

}  // namespace

bool BenchmarkReport::AllCorrect() const {
  for (const MethodResult& m : methods) {
    if (m.ran && !m.correct) return false;
  }
  return true;
}

absl::StatusOr<BenchmarkReport> RunBenchmark(const RunnerOptions& options) {
  absl::StatusOr<PgConnection> conn = PgConnection::Connect(options.uri);
  if (!conn.ok()) return conn.status();
  BankNames names = NamesFor(options.names);
  BenchmarkReport report;
  auto events = CountEvents(*conn, names, std::nullopt);
  if (!events.ok()) return events.status();
  report.events = *events;
  auto unknown = conn->ExecParams(
      "SELECT count(*) FROM message_store.messages WHERE message_store.category(stream_name) "
      "IN ($1, $2) AND type NOT IN ($3, $4, $5, $6)",
      {names.user_category, names.transaction_category, names.registered, names.transacted_v1,
       names.transacted_v2, names.profile_updated});
  if (!unknown.ok()) return unknown.status();
  const int64_t unknown_events = std::strtoll(std::string(unknown->Get(0, 0)).c_str(), nullptr, 10);

  for (const char* table : {kReferenceTable, kFloorTable, kFloorSampleTable, kPerEventTable}) {
    absl::Status created = CreateBalancesTable(*conn, table);
    if (!created.ok()) return created;
  }

  // The reference: sum(amount ORDER BY global_position), exact by definition. Its first
  // run also warms the cache for every method after it.
  MethodResult reference;
  reference.label = "(c0) set-based SQL, sum(... ORDER BY global_position)";
  {
    auto timing =
        RunSetBasedFloor(*conn, names, kReferenceTable, FloorForm::kOrderedAggregate, std::nullopt);
    if (!timing.ok()) return timing.status();
    reference.seconds = timing->seconds;
    reference.events = timing->events;
    reference.ran = reference.correct = true;
    reference.differences = 0;
    reference.note = "the reference of every check";
    report.users = timing->rows;
  }

  // (c) the floor: the fastest exact set-based form, best of floor_runs.
  MethodResult floor;
  floor.label = "(c) set-based SQL (floor)";
  for (int i = 0; i < std::max(1, options.floor_runs); ++i) {
    auto timing =
        RunSetBasedFloor(*conn, names, kFloorTable, FloorForm::kOrderedInput, std::nullopt);
    if (!timing.ok()) return timing.status();
    if (i == 0 || timing->seconds < floor.seconds) floor.seconds = timing->seconds;
    floor.events = timing->events;
  }
  floor.ran = true;
  absl::Status floor_checked = Check(*conn, kFloorTable, kReferenceTable, floor);
  if (!floor_checked.ok()) return floor_checked;

  // (a) twice by default, like the floor: a single run varies by ~10% on a shared machine.
  auto action = BestOf(options.action_runs, [&] {
    return RunEngine(*conn, options, "action", kActionTable, "(a) engine, action form",
                     report.events, unknown_events);
  });
  if (!action.ok()) return action.status();
  auto daemon =
      BestOf(options.action_runs, [&] { return RunThroughDaemon(*conn, options, report.events); });
  if (!daemon.ok()) return daemon.status();
  // (b) in memory (sql_lowering.h: the statements are of its shape), best of two like (a);
  // then the same statements run by PostgreSQL, in set-based waves (sql_waves.h), once.
  auto sql = BestOf(options.action_runs, [&] {
    return RunEngine(*conn, options, "sql", kSqlTable, "(b) engine, SQL form", report.events,
                     unknown_events);
  });
  if (!sql.ok()) return sql.status();
  auto sql_waves =
      RunEngine(*conn, options, "sql", kSqlTable, "(b) the same run by PostgreSQL (--sql-waves)",
                report.events, unknown_events, {"--sql-waves"});
  if (!sql_waves.ok()) return sql_waves.status();
  // (e) the same semantics in the Lua form (issue 16), best of two like (a).
  auto lua = BestOf(options.action_runs, [&] {
    return RunEngine(*conn, options, "lua", kLuaTable, "(e) engine, Lua form", report.events,
                     unknown_events);
  });
  if (!lua.ok()) return lua.status();

  // (d) on a sample: the floor of the same prefix is its reference.
  MethodResult per_event;
  per_event.label = absl::StrCat("(d) per-event transactions (sample)");
  auto head = NthEventPosition(*conn, names, options.sample);
  if (!head.ok()) return head.status();
  auto sample_floor =
      RunSetBasedFloor(*conn, names, kFloorSampleTable, FloorForm::kOrderedAggregate, *head);
  if (!sample_floor.ok()) return sample_floor.status();
  auto replay = RunPerEventReplay(*conn, names, kPerEventTable, *head);
  if (!replay.ok()) return replay.status();
  per_event.ran = true;
  per_event.seconds = replay->seconds;
  per_event.events = replay->events;
  absl::Status checked = Check(*conn, kPerEventTable, kFloorSampleTable, per_event);
  if (!checked.ok()) return checked;
  if (per_event.correct) {
    per_event.note =
        absl::StrCat("first ", replay->events, " events, checked against (c0) on them");
  }

  report.methods = {*action, *daemon, *sql, *sql_waves, *lua, floor, reference, per_event};
  return report;
}

std::string FormatReport(const BenchmarkReport& report) {
  const MethodResult* floor = nullptr;
  const MethodResult* reference = nullptr;
  const MethodResult* per_event = nullptr;
  for (const MethodResult& m : report.methods) {
    if (m.label.rfind("(c)", 0) == 0) floor = &m;
    if (m.label.rfind("(c0)", 0) == 0) reference = &m;
    if (m.label.rfind("(d)", 0) == 0) per_event = &m;
  }
  // Ratios are to (c); should its plan not have given the exact sums, to (c0).
  if (floor == nullptr || !floor->correct) floor = reference;
  std::string out = absl::StrFormat(
      "%d events in the projection's categories, %d Balances rows\n\n"
      "| method | events | time (s) | events/s | time / (c) | rate / (d) | peak RSS | Balances vs "
      "(c0) |\n"
      "|---|---:|---:|---:|---:|---:|---:|---|\n",
      report.events, report.users);
  for (const MethodResult& m : report.methods) {
    bool counts = m.ran && m.correct;
    std::string time = counts ? absl::StrFormat("%.3f", m.seconds) : "-";
    std::string ratio = "-", vs_pe = "-";
    bool is_sample = &m == per_event;
    if (counts && floor && floor->seconds > 0 && !is_sample) {
      ratio = absl::StrFormat("%.2fx", m.seconds / floor->seconds);
    }
    if (counts && per_event && per_event->correct && per_event->rate() > 0) {
      vs_pe = absl::StrFormat("%.0fx", m.rate() / per_event->rate());
    }
    std::string rss =
        m.peak_rss_kib >= 0 ? absl::StrFormat("%.1f MiB", m.peak_rss_kib / 1024.0) : "-";
    std::string check = !m.ran ? "not run" : (m.correct ? "equal" : "WRONG");
    if (!m.note.empty()) absl::StrAppend(&check, " (", m.note, ")");
    absl::StrAppend(
        &out, absl::StrFormat("| %s | %d | %s | %s | %s | %s | %s | %s |\n", m.label, m.events,
                              time, counts ? Rate(m.rate()) : "-", ratio, vs_pe, rss, check));
  }
  return out;
}

}  // namespace protean_admin::bench
