#include "server/service/server_guard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "domain/env_substitution.h"
#include "storage/pg_connection.h"

namespace protean_admin::service {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

enum class ConnectResult { kConnected, kRefused, kTimeout, kError };

ConnectResult ConnectWithTimeout(int fd, const sockaddr* addr, socklen_t len,
                                 std::chrono::milliseconds timeout, std::string* error) {
  int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = connect(fd, addr, len);
  if (rc == 0) return ConnectResult::kConnected;
  if (errno == ECONNREFUSED) return ConnectResult::kRefused;
  if (errno != EINPROGRESS) {
    *error = std::strerror(errno);
    return ConnectResult::kError;
  }
  pollfd pfd{fd, POLLOUT, 0};
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    rc = poll(&pfd, 1, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    break;
  }
  if (rc == 0) return ConnectResult::kTimeout;
  if (rc < 0) {
    *error = std::strerror(errno);
    return ConnectResult::kError;
  }
  int so_error = 0;
  socklen_t so_len = sizeof(so_error);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
  if (so_error == 0) return ConnectResult::kConnected;
  if (so_error == ECONNREFUSED) return ConnectResult::kRefused;
  *error = std::strerror(so_error);
  return ConnectResult::kError;
}

// Sends the request and reads until the status line is complete or the peer closes.
ProbeOutcome Exchange(int fd, const HttpUrl& url, std::chrono::milliseconds timeout) {
  const std::string target = absl::StrCat("GET ", url.ToString());
  std::string request = absl::StrCat("GET ", url.path, " HTTP/1.0\r\nHost: ", url.host, ":",
                                     url.port, "\r\nConnection: close\r\n\r\n");
  Clock::time_point deadline = Clock::now() + timeout;
  size_t sent = 0;
  while (sent < request.size()) {
    pollfd pfd{fd, POLLOUT, 0};
    int rc = poll(&pfd, 1, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      return {ProbeVerdict::kUnknown,
              absl::StrCat(target, ": connected, but sending timed out after ", timeout.count(),
                           " ms")};
    }
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return {ProbeVerdict::kUnknown,
              absl::StrCat(target, ": connected, but sending failed: ", std::strerror(errno))};
    }
    sent += static_cast<size_t>(n);
  }
  deadline = Clock::now() + timeout;
  std::string answer;
  while (answer.find("\r\n") == std::string::npos && answer.find('\n') == std::string::npos &&
         answer.size() < 4096) {
    pollfd pfd{fd, POLLIN, 0};
    int rc = poll(&pfd, 1, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      if (!answer.empty()) break;
      return {ProbeVerdict::kUnknown,
              absl::StrCat(target, ": connected, but no answer within ", timeout.count(), " ms")};
    }
    char buffer[1024];
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (!answer.empty()) break;
      return {ProbeVerdict::kUnknown,
              absl::StrCat(target, ": connected, but reading failed: ", std::strerror(errno))};
    }
    if (n == 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  // "HTTP/1.1 200 OK"
  if (answer.rfind("HTTP/", 0) == 0) {
    size_t space = answer.find(' ');
    std::string code = space == std::string::npos ? "" : answer.substr(space + 1, 3);
    return {ProbeVerdict::kRunning, absl::StrCat(target, " answered ", code)};
  }
  if (answer.empty()) {
    return {ProbeVerdict::kUnknown,
            absl::StrCat(target, ": connection accepted, then closed without an answer")};
  }
  return {ProbeVerdict::kUnknown, absl::StrCat(target, ": connected, but the answer is not HTTP")};
}

}  // namespace

std::string HttpUrl::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat("http://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port, path);
}

absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url_view) {
  std::string url(url_view);
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("health probe URL must start with http://: '", url, "'"));
  }
  std::string rest = url.substr(scheme.size());
  HttpUrl out;
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad IPv6 host in '", url, "'"));
    }
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return absl::InvalidArgumentError(absl::StrCat("bad host in '", url, "'"));
      }
      port_text = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return absl::InvalidArgumentError(absl::StrCat("no host in '", url, "'"));
  if (!port_text.empty()) {
    if (!absl::SimpleAtoi(port_text, &out.port) || out.port <= 0 || out.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port in '", url, "'"));
    }
  }
  return out;
}

ProbeOutcome ProbeHttp(const HttpUrl& url, std::chrono::milliseconds timeout) {
  const std::string target = absl::StrCat("GET ", url.ToString());
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* resolved = nullptr;
  std::string port = std::to_string(url.port);
  int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &resolved);
  if (rc != 0) {
    return {ProbeVerdict::kUnknown,
            absl::StrCat(target, ": cannot resolve host: ", gai_strerror(rc))};
  }
  ProbeOutcome result{ProbeVerdict::kStopped, absl::StrCat(target, ": connection refused")};
  bool any_refused = false;
  for (addrinfo* ai = resolved; ai != nullptr; ai = ai->ai_next) {
    Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) continue;
    std::string error;
    switch (ConnectWithTimeout(fd.get(), ai->ai_addr, ai->ai_addrlen, timeout, &error)) {
      case ConnectResult::kConnected:
        freeaddrinfo(resolved);
        return Exchange(fd.get(), url, timeout);
      case ConnectResult::kRefused:
        any_refused = true;
        break;
      case ConnectResult::kTimeout:
        result = {ProbeVerdict::kUnknown,
                  absl::StrCat(target, ": connect timed out after ", timeout.count(), " ms")};
        break;
      case ConnectResult::kError:
        result = {ProbeVerdict::kUnknown, absl::StrCat(target, ": connect failed: ", error)};
        break;
    }
  }
  freeaddrinfo(resolved);
  // Every address refused -> stopped; any other failure -> cannot tell.
  if (result.verdict == ProbeVerdict::kStopped && !any_refused) {
    result = {ProbeVerdict::kUnknown, absl::StrCat(target, ": no usable address")};
  }
  return result;
}

absl::Status RefusalFor(const ProbeOutcome& outcome) {
  switch (outcome.verdict) {
    case ProbeVerdict::kStopped:
      return absl::OkStatus();
    case ProbeVerdict::kRunning:
      return absl::FailedPreconditionError(
          absl::StrCat("Refusing to rebuild: the Protean event server appears to be running (",
                       outcome.evidence, "). Stop it or pass --force."));
    case ProbeVerdict::kUnknown:
      break;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("Refusing to rebuild: cannot tell whether the Protean event server is "
                   "running (",
                   outcome.evidence, "). Stop it or pass --force."));
}

absl::Status EventServerGuard::Validate() const {
  for (const std::string& url : options_.extra_urls) {
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url);
    if (!parsed.ok()) return parsed.status();
  }
  return absl::OkStatus();
}

ProbeOutcome EventServerGuard::ProbeApplicationName(const domain::Domain& domain) const {
  const std::string what =
      absl::StrCat("pg_stat_activity application_name '", options_.pg_application_name, "'");
  absl::StatusOr<storage::PgConnection> conn =
      storage::PgConnection::Connect(domain.event_store.database_uri);
  if (!conn.ok()) {
    return {
        ProbeVerdict::kUnknown,
        absl::StrCat(what, ": cannot connect to the event store: ",
                     domain::WithUriNote(conn.status(), domain.event_store.uri_note).message())};
  }
  absl::StatusOr<storage::PgResult> rows = conn->ExecParams(
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> "
      "pg_backend_pid()",
      {options_.pg_application_name});
  if (!rows.ok() || rows->rows() != 1) {
    return {ProbeVerdict::kUnknown,
            absl::StrCat(what, ": query failed: ",
                         rows.ok() ? "no row" : std::string(rows.status().message()))};
  }
  std::string count(rows->Get(0, 0));
  if (count != "0") {
    return {ProbeVerdict::kRunning,
            absl::StrCat(count, " connection(s) to the event store with ", what)};
  }
  return {ProbeVerdict::kStopped, absl::StrCat(what, ": none")};
}

absl::Status EventServerGuard::Check(const domain::Domain& domain) const {
  HttpUrl livez{domain.health.host, domain.health.port, "/livez"};
  absl::Status status = RefusalFor(ProbeHttp(livez, options_.timeout));
  if (!status.ok()) return status;
  for (const std::string& url : options_.extra_urls) {
    absl::StatusOr<HttpUrl> parsed = ParseHttpUrl(url);
    if (!parsed.ok()) return absl::FailedPreconditionError(parsed.status().message());
    status = RefusalFor(ProbeHttp(*parsed, options_.timeout));
    if (!status.ok()) return status;
  }
  if (!options_.pg_application_name.empty()) {
    status = RefusalFor(ProbeApplicationName(domain));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace protean_admin::service
