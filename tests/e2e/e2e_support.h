#ifndef PROTEAN_ADMIN_TESTS_E2E_E2E_SUPPORT_H_
#define PROTEAN_ADMIN_TESTS_E2E_E2E_SUPPORT_H_

// Processes for the e2e tests: the daemon, CLI runs, a tiny HTTP server standing in for
// Protean's health endpoint, free ports and temporary directories.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace protean_admin::e2e {

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// mkdtemp under /tmp; removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  void Write(const std::string& relative, const std::string& text) const;

 private:
  std::string path_;
};

// A child process with stdout and stderr captured to files.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
          const std::string& capture_dir);
  ~Process();  // SIGKILLs and reaps if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  // Waits up to `timeout`; returns the exit code (128+signal when killed), -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  bool running();
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
  std::string out_path_;
  std::string err_path_;
};

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Answers every HTTP request with `status_line` ("HTTP/1.1 200 OK") until destroyed.
class HealthServer {
 public:
  HealthServer(int port, std::string status_line);
  ~HealthServer();
  int requests() const { return requests_.load(); }

 private:
  int fd_ = -1;
  std::string status_line_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

std::string ReadFileText(const std::string& path);
std::vector<std::string> Lines(const std::string& text);

}  // namespace protean_admin::e2e

#endif  // PROTEAN_ADMIN_TESTS_E2E_E2E_SUPPORT_H_
