#include "tests/e2e/e2e_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#if !defined(PROTEAN_ADMIND_BINARY) || !defined(PROTEAN_ADMIN_CLI_BINARY)
#error "PROTEAN_ADMIND_BINARY and PROTEAN_ADMIN_CLI_BINARY must be defined by the build"
#endif

namespace protean_admin::e2e {

TempDir::TempDir() {
  char tmpl[] = "/tmp/protean-admin-e2e.XXXXXX";
  char* made = mkdtemp(tmpl);
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::Write(const std::string& relative, const std::string& text) const {
  std::filesystem::path p = std::filesystem::path(path_) / relative;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::map<std::string, nlohmann::json> JobsById(const std::string& json_lines) {
  std::map<std::string, nlohmann::json> jobs;
  for (const std::string& line : Lines(json_lines)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("job_id")) jobs[j["job_id"].get<std::string>()] = j;
  }
  return jobs;
}

namespace {
std::atomic<int> g_process_counter{0};

// The summary line every sanitizer report ends with (LSan under ASan says AddressSanitizer).
constexpr const char* kSanitizerSummaries[] = {
    "SUMMARY: AddressSanitizer", "SUMMARY: LeakSanitizer", "SUMMARY: UndefinedBehaviorSanitizer"};

// Fails the running test when `err` holds a sanitizer report of `program`.
void FailOnSanitizerReport(const std::string& program, pid_t pid, const std::string& err) {
  for (const char* summary : kSanitizerSummaries) {
    if (err.find(summary) == std::string::npos) continue;
    ADD_FAILURE() << "sanitizer report from " << program << " (pid " << pid << "):\n" << err;
    return;
  }
}
}  // namespace

Process::Process(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env, const std::string& capture_dir) {
  int n = g_process_counter++;
  program_ = argv.empty() ? std::string() : argv[0];
  out_path_ = capture_dir + "/proc" + std::to_string(n) + ".out";
  err_path_ = capture_dir + "/proc" + std::to_string(n) + ".err";
  pid_ = fork();
  if (pid_ == 0) {
    int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null_in = open("/dev/null", O_RDONLY);
    dup2(out, 1);
    dup2(err, 2);
    dup2(null_in, 0);
    for (const auto& [k, v] : env) {
      if (v.empty()) {
        unsetenv(k.c_str());
      } else {
        setenv(k.c_str(), v.c_str(), 1);
      }
    }
    // Signals blocked or ignored by the test runner must not leak into the child.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void Process::Signal(int sig) const {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

int Process::Wait(std::chrono::milliseconds timeout) {
  if (reaped_) return exit_code_;
  auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      FailOnSanitizerReport(program_, pid_, Stderr());
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool Process::running() {
  if (reaped_) return false;
  return Wait(std::chrono::milliseconds(0)) == -1;
}

std::string Process::Stdout() const { return ReadFileText(out_path_); }
std::string Process::Stderr() const { return ReadFileText(err_path_); }

Daemon::Daemon(std::string domain_root, std::string capture_dir)
    : domain_root_(std::move(domain_root)), capture_dir_(std::move(capture_dir)) {}

Daemon::~Daemon() { Stop(); }

bool Daemon::Start(const std::vector<std::string>& extra_args, const std::string& host) {
  port_ = FreePort();
  server_ = absl::StrCat("127.0.0.1:", port_);
  std::vector<std::string> argv = {PROTEAN_ADMIND_BINARY,
                                   "--listen",
                                   absl::StrCat(host, ":", port_),
                                   "--domain-root",
                                   domain_root_,
                                   "--shutdown-deadline",
                                   "15",
                                   "--probe-timeout-ms",
                                   "500"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<Process>(argv, std::map<std::string, std::string>{}, capture_dir_);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    if (!process_->running()) return false;
    if (testing::PortAccepts(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int Daemon::Stop() {
  if (process_ == nullptr) return 0;
  process_->Signal(SIGTERM);
  return process_->Wait(std::chrono::seconds(20));
}

std::unique_ptr<Process> Daemon::SpawnCli(const std::vector<std::string>& args,
                                          std::map<std::string, std::string> env) const {
  std::vector<std::string> argv = {PROTEAN_ADMIN_CLI_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  bool has_server = env.count("PROTEAN_ADMIN_SERVER") > 0;
  for (const std::string& a : args) has_server |= a.rfind("--server", 0) == 0;
  if (!has_server) argv.push_back("--server=" + server_);
  for (const char* name : {"PROTEAN_ADMIN_SERVER", "PROTEAN_DOMAIN", "PROTEAN_ADMIN_TOKEN"}) {
    env.emplace(name, "");
  }
  return std::make_unique<Process>(argv, env, capture_dir_);
}

CliRun Daemon::Cli(const std::vector<std::string>& args,
                   std::map<std::string, std::string> env) const {
  std::unique_ptr<Process> p = SpawnCli(args, std::move(env));
  CliRun run;
  run.exit_code = p->Wait(std::chrono::seconds(120));
  run.out = p->Stdout();
  run.err = p->Stderr();
  return run;
}

bool Daemon::WaitForReplay(const std::string& job_id) const {
  for (int i = 0; i < 400; ++i) {
    CliRun jobs = Cli({"jobs", "--json"});
    for (const std::string& line : Lines(jobs.out)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("job_id", "") == job_id &&
          j.value("processed", int64_t{0}) > 0) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

absl::Status WriteTestHistory(storage::PgConnection& conn, int users, int transactions) {
  auto registered = conn.Exec(absl::StrCat(
      "INSERT INTO message_store.messages (stream_name, position, type, data, metadata) "
      "SELECT 'test::user-u' || g, 0, 'Test.Registered.v1', "
      "jsonb_build_object('user_id', 'u' || g, 'email', 'u' || g || '@x', 'name', 'U' || g), "
      "'{}'::jsonb FROM generate_series(0, ",
      users - 1, ") g"));
  if (!registered.ok()) return registered.status();
  auto transacted = conn.Exec(absl::StrCat(
      "INSERT INTO message_store.messages (stream_name, position, type, data, metadata) "
      "SELECT 'test::transaction-t' || (g % 1000), g / 1000, 'Test.Transacted.v1', "
      "jsonb_build_object('user_id', 'u' || (g % ",
      users, "), 'amount', 1.0), '{}'::jsonb FROM generate_series(0, ", transactions - 1, ") g"));
  return transacted.ok() ? absl::OkStatus() : transacted.status();
}

absl::Status WritePacedEvents(storage::PgConnection& conn, int count) {
  auto paced = conn.Exec(absl::StrCat(
      "INSERT INTO message_store.messages (stream_name, position, type, data, metadata) "
      "SELECT 'test::pace-1', coalesce((SELECT max(position) + 1 FROM message_store.messages "
      "WHERE stream_name = 'test::pace-1'), 0) + g, 'Test.Paced.v1', '{}'::jsonb, '{}'::jsonb "
      "FROM generate_series(0, ",
      count - 1, ") g"));
  return paced.ok() ? absl::OkStatus() : paced.status();
}

std::string AuditRow(storage::PgConnection& conn, const std::string& job_id) {
  auto r = conn.ExecParams(
      "SELECT state || '|' || requested_by || '|' || events_dispatched || '|' || errors::text "
      "|| '|' || (finished_at IS NOT NULL) FROM protean_admin.rebuilds WHERE id = $1",
      {job_id});
  if (!r.ok()) return "<error: " + std::string(r.status().message()) + ">";
  if (r->rows() != 1) return "<none>";
  return std::string(r->Get(0, 0));
}

std::string TestDomainToml(const TestDomain& domain) {
  return absl::StrReplaceAll(
      R"toml(
[domain]
name = "Test"

[event_store]
provider = "message_db"
database_uri = "@URI@"

[databases.default]
provider = "postgresql"
database_uri = "@URI@"

[server.health]
host = "127.0.0.1"
port = @HEALTH@

[aggregates.User]
[aggregates.Transaction]

[events.Registered]
aggregate = "User"
[events.Transacted]
aggregate = "Transaction"
version = @VERSION@

[projections.Balances]
key = "user_id"
@CACHE@@TABLE@columns = { user_id = "varchar(255)", name = "varchar(255)", balance = "double precision" }

[projectors.TransactionProjector]
projector_for = "Balances"
aggregates = ["Transaction", "User"]

[projectors.TransactionProjector.on.Registered]
key = ":user_id"
set = { name = ":name", balance = 0 }

[projectors.TransactionProjector.on.Transacted]
key = ":user_id"
insert = { name = "", balance = ":amount" }
increment = { balance = ":amount" }
@EXTRA@)toml",
      {{"@URI@", domain.uri},
       {"@HEALTH@", std::to_string(domain.health_port)},
       {"@VERSION@", std::to_string(domain.transacted_version)},
       {"@CACHE@", domain.balances_cache.empty()
                       ? std::string()
                       : absl::StrCat("cache = \"", domain.balances_cache, "\"\n")},
       {"@TABLE@", domain.balances_table.empty()
                       ? std::string()
                       : absl::StrCat("table = \"", domain.balances_table, "\"\n")},
       {"@EXTRA@", domain.extra}});
}

const char kUserDirectoryProjection[] = R"toml(
[projections.UserDirectory]
key = "user_id"
columns = { user_id = "varchar(255)", email = "varchar(255)", name = "varchar(255)" }
)toml";

const char kUserDirectoryProjector[] = R"toml(
[projectors.UserDirectoryProjector]
projector_for = "UserDirectory"
aggregates = ["User"]

[projectors.UserDirectoryProjector.on.Registered]
sql = "INSERT INTO user_directory (user_id, email, name) VALUES (:user_id, :email, :name) ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name"
)toml";

const char kPacingProjector[] = R"toml(
[aggregates.Pace]
[events.Paced]
aggregate = "Pace"

[projectors.PacingProjector]
projector_for = "Balances"
aggregates = ["Pace"]

[projectors.PacingProjector.on.Paced]
sql = "SELECT pg_sleep(0.002)"
)toml";

HealthServer::HealthServer(int port, std::string status_line)
    : status_line_(std::move(status_line)) {
  // Close-on-exec: a child process (the CLI, the daemon) must not keep the port listening
  // after the destructor closed it, or "stopped" would look like "no answer".
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw std::runtime_error("HealthServer: bind failed");
  }
  listen(fd_, 16);
  thread_ = std::thread([this] {
    while (!stop_) {
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 20) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      char buf[2048];
      recv(c, buf, sizeof(buf), 0);
      ++requests_;
      std::string answer = status_line_ + "\r\nContent-Length: 2\r\n\r\nOK";
      send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      close(c);
    }
  });
}

HealthServer::~HealthServer() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

}  // namespace protean_admin::e2e
