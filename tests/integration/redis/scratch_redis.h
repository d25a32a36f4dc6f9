#ifndef PROTEAN_ADMIN_TESTS_INTEGRATION_REDIS_SCRATCH_REDIS_H_
#define PROTEAN_ADMIN_TESTS_INTEGRATION_REDIS_SCRATCH_REDIS_H_

// Test helpers for the Redis client tests: a private redis-server started by the test itself
// (so it can be configured with --requirepass, shut down or killed without touching the
// harness' shared server).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tests/harness/ports.h"

extern char** environ;

namespace protean_admin::testing {

// A redis-server child process on a free port of 127.0.0.1, without persistence. Killed
// (SIGKILL) and reaped on destruction if still running.
class ScratchRedis {
 public:
  ScratchRedis() = default;
  ScratchRedis(const ScratchRedis&) = delete;
  ScratchRedis& operator=(const ScratchRedis&) = delete;
  ~ScratchRedis() { Kill(); }

  absl::Status Start(const std::vector<std::string>& extra_args = {}) {
    port_ = FreePort();
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     "/tmp",
                                     "--daemonize",
                                     "no",
                                     "--logfile",
                                     ""};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid_, "redis-server", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("cannot start redis-server: error ", rc));
    }
    for (int i = 0; i < 100; ++i) {
      if (PortAccepts(port_)) return absl::OkStatus();
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::InternalError("redis-server exited at start-up");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return absl::DeadlineExceededError("redis-server did not listen within 5 s");
  }

  // SIGKILL and reap.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    WaitForExit();
  }

  // Reaps the process after it exits by itself (e.g. SHUTDOWN NOSAVE). True when it did
  // within 5 s.
  bool WaitForExit() {
    if (pid_ <= 0) return true;
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string Uri(int db = 0, const std::string& credentials = "") const {
    return absl::StrCat("redis://", credentials, credentials.empty() ? "" : "@",
                        "127.0.0.1:", port_, "/", db);
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace protean_admin::testing

#endif  // PROTEAN_ADMIN_TESTS_INTEGRATION_REDIS_SCRATCH_REDIS_H_
