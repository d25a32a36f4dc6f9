#include "storage/redis_client.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace protean_admin::storage {
namespace {

constexpr std::string_view kScheme = "redis://";

absl::string_view Sv(std::string_view sv) { return absl::string_view(sv.data(), sv.size()); }

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// Blocks SIGPIPE in this thread while hiredis writes to a socket whose peer may be gone, and
// swallows a SIGPIPE raised meanwhile (the write fails with EPIPE, which hiredis reports).
// The same technique as libpq's pq_block_sigpipe.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_mask_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_mask_;
  bool was_pending_ = false;
};

bool ParseInt(std::string_view text, int64_t min, int64_t max, int64_t* out) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return false;
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes URI userinfo. False on a malformed escape.
bool PercentDecode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int hi = HexValue(text[i + 1]);
    int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

absl::Status UriError(std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("invalid Redis URI: ", Sv(problem)));
}

std::string DescribeHostPort(const std::string& host, int port, int db) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return absl::StrCat(ipv6 ? "[" : "", host, ipv6 ? "]" : "", ":", port, "/", db);
}

// Maps an error reply ("WRONGPASS invalid ...") to a status with `context` in front.
absl::Status ErrorReplyStatus(std::string_view error, std::string_view context) {
  std::string_view code = error.substr(0, error.find(' '));
  std::string message = absl::StrCat(Sv(context), ": ", Sv(error));
  if (code == "WRONGPASS" || code == "NOAUTH") return absl::UnauthenticatedError(message);
  if (code == "NOPERM") return absl::PermissionDeniedError(message);
  if (code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" || code == "TRYAGAIN") {
    return absl::UnavailableError(message);
  }
  if (code == "OOM") return absl::ResourceExhaustedError(message);
  if (code == "WRONGTYPE" || code == "READONLY" || code == "MISCONF") {
    return absl::FailedPreconditionError(message);
  }
  if (absl::StrContains(Sv(error), "DB index is out of range") ||
      absl::StrContains(Sv(error), "invalid expire time") ||
      absl::StrContains(Sv(error), "wrong number of arguments")) {
    return absl::InvalidArgumentError(message);
  }
  return absl::InternalError(message);
}

std::string_view ReplyText(const redisReply* reply) {
  return std::string_view(reply->str ? reply->str : "", reply->str ? reply->len : 0);
}

std::string_view ReplyTypeName(int type) {
  switch (type) {
    case REDIS_REPLY_STRING:
      return "bulk string";
    case REDIS_REPLY_ARRAY:
      return "array";
    case REDIS_REPLY_INTEGER:
      return "integer";
    case REDIS_REPLY_NIL:
      return "nil";
    case REDIS_REPLY_STATUS:
      return "status";
    case REDIS_REPLY_ERROR:
      return "error";
  }
  return "unknown";
}

RedisReply ConvertReply(const redisReply* reply) {
  RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str = std::string(ReplyText(reply));
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str = std::string(ReplyText(reply));
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str = std::string(ReplyText(reply));
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) {
        out.elements.push_back(ConvertReply(reply->element[i]));
      }
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

// "user:password" (either percent-encoded; the password not empty) of a redis:// URI.
absl::Status ParseUserInfo(std::string_view userinfo, std::string* user, std::string* password) {
  const size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) {
    return UriError("credentials must be written user:password@ or :password@");
  }
  if (!PercentDecode(userinfo.substr(0, colon), user)) {
    return UriError("malformed percent-encoding in the user");
  }
  if (!PercentDecode(userinfo.substr(colon + 1), password)) {
    return UriError("malformed percent-encoding in the password");
  }
  if (password->empty()) return UriError("empty password");
  return absl::OkStatus();
}

// "host[:port]" or "[ipv6][:port]" of a redis:// URI; `port` is left as it is when absent.
absl::Status ParseHostPort(std::string_view hostport, std::string* host, int* port) {
  std::string_view port_text;
  bool has_port = false;
  if (!hostport.empty() && hostport.front() == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return UriError("unterminated '[' in the host");
    *host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return UriError("unexpected text after ']' in the host");
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = hostport.find(':');
    if (colon != std::string_view::npos) {
      if (hostport.find(':', colon + 1) != std::string_view::npos) {
        return UriError("an IPv6 host must be written in brackets, e.g. [::1]");
      }
      port_text = hostport.substr(colon + 1);
      has_port = true;
    }
    *host = std::string(hostport.substr(0, colon));
  }
  if (host->empty()) return UriError("missing host");
  if (!has_port) return absl::OkStatus();
  int64_t parsed = 0;
  if (!ParseInt(port_text, 1, 65535, &parsed)) {
    return UriError(
        absl::StrCat("invalid port '", Sv(port_text.substr(0, 32)), "' (expected 1-65535)"));
  }
  *port = static_cast<int>(parsed);
  return absl::OkStatus();
}

// The reply of an UNLINK: adds the keys it removed to `removed`, or says why it failed.
absl::Status CountUnlinked(const redisReply& reply, const std::string& description,
                           int64_t* removed) {
  if (reply.type == REDIS_REPLY_INTEGER) {
    *removed += reply.integer;
    return absl::OkStatus();
  }
  if (reply.type == REDIS_REPLY_ERROR) {
    return ErrorReplyStatus(ReplyText(&reply),
                            absl::StrCat("UNLINK failed on Redis at ", description));
  }
  return absl::InternalError(absl::StrCat("unexpected UNLINK reply from Redis at ", description,
                                          ": ", Sv(ReplyTypeName(reply.type))));
}

// The reply of a SCAN: its next cursor in `cursor`, the keys it found appended to `found`.
absl::Status ReadScanReply(const redisReply& reply, const std::string& description,
                           std::string* cursor, std::vector<std::string>* found) {
  if (reply.type == REDIS_REPLY_ERROR) {
    return ErrorReplyStatus(ReplyText(&reply),
                            absl::StrCat("SCAN failed on Redis at ", description));
  }
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2 ||
      reply.element[0]->type != REDIS_REPLY_STRING || reply.element[1]->type != REDIS_REPLY_ARRAY) {
    return absl::InternalError(absl::StrCat("unexpected SCAN reply from Redis at ", description));
  }
  *cursor = std::string(ReplyText(reply.element[0]));
  const redisReply* keys = reply.element[1];
  found->reserve(keys->elements);
  for (size_t i = 0; i < keys->elements; ++i) {
    if (keys->element[i]->type != REDIS_REPLY_STRING) {
      return absl::InternalError(absl::StrCat("unexpected SCAN reply from Redis at ", description));
    }
    found->emplace_back(ReplyText(keys->element[i]));
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// RedisUri

absl::StatusOr<RedisUri> RedisUri::Parse(std::string_view uri) {
  std::string_view rest = uri;
  const size_t scheme_end = rest.find("://");
  if (scheme_end == std::string_view::npos) {
    return UriError("expected redis://[[user]:password@]host[:port][/db]");
  }
  std::string scheme(rest.substr(0, scheme_end));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "rediss") return UriError("TLS (rediss://) is not supported");
  if (scheme != "redis") {
    // The scheme cannot hold a password: safe to name (but keep it short).
    return UriError(
        absl::StrCat("unsupported scheme '", scheme.substr(0, 32), "' (expected redis://)"));
  }
  rest.remove_prefix(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return UriError("query parameters and fragments are not supported");
  }

  RedisUri out;
  // Authority up to the first '/'. The password may hold '@' or '/' only percent-encoded,
  // except '@', for which the last one separates the credentials from the host.
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    if (absl::Status s = ParseUserInfo(rest.substr(0, at), &out.user, &out.password); !s.ok()) {
      return s;
    }
    rest.remove_prefix(at + 1);
  }
  const size_t slash = rest.find('/');
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (absl::Status s = ParseHostPort(rest.substr(0, slash), &out.host, &out.port); !s.ok()) {
    return s;
  }
  if (!path.empty()) {
    int64_t db = 0;
    if (!ParseInt(path, 0, INT_MAX, &db)) {
      return UriError(
          absl::StrCat("invalid database '", Sv(path.substr(0, 32)), "' (expected a number >= 0)"));
    }
    out.db = static_cast<int>(db);
  }
  return out;
}

std::string RedisUri::Describe() const { return DescribeHostPort(host, port, db); }

std::string CacheKey(std::string_view prefix, std::string_view key) {
  return absl::StrCat(Sv(prefix), ":::", Sv(key));
}

std::string EscapeGlob(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// RedisClient

void RedisClient::Deleter::operator()(redisContext* context) const { redisFree(context); }

RedisClient::RedisClient(redisContext* context, std::string description)
    : context_(context), description_(std::move(description)) {}

RedisClient::RedisClient(RedisClient&& other) noexcept = default;
RedisClient& RedisClient::operator=(RedisClient&& other) noexcept = default;
RedisClient::~RedisClient() = default;

bool RedisClient::ok() const { return context_ != nullptr && context_->err == 0; }

absl::StatusOr<RedisClient> RedisClient::Connect(std::string_view uri,
                                                 std::chrono::milliseconds timeout) {
  absl::StatusOr<RedisUri> parsed = RedisUri::Parse(uri);
  if (!parsed.ok()) return parsed.status();
  return Connect(*parsed, timeout);
}

absl::StatusOr<RedisClient> RedisClient::Connect(const RedisUri& uri,
                                                 std::chrono::milliseconds timeout) {
  const std::string description = uri.Describe();
  const std::string context = absl::StrCat("cannot connect to Redis at ", description);
  if (timeout.count() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": the timeout must be > 0"));
  }
  timeval tv;
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);

  ScopedSigpipeBlock no_sigpipe;
  redisContext* raw = redisConnectWithTimeout(uri.host.c_str(), uri.port, tv);
  if (raw == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(context, ": out of memory"));
  }
  RedisClient client(raw, description);
  client.timeout_ = timeout;
  if (raw->err != 0) {
    return absl::UnavailableError(absl::StrCat(context, ": ", raw->errstr));
  }
  if (redisSetTimeout(raw, tv) != REDIS_OK) {
    return absl::UnavailableError(absl::StrCat(context, ": cannot set the timeout: ", raw->errstr));
  }
  redisEnableKeepAlive(raw);  // best effort

  // A connection failure in the handshake reads "cannot connect ...: <why>"; an error reply
  // keeps its own code (Unauthenticated, InvalidArgument, ...) with the same prefix.
  auto step = [&](const std::vector<std::string_view>& args, std::string_view what,
                  bool auth) -> absl::Status {
    void* raw_reply = nullptr;
    absl::Status status = client.Roundtrip(args, &raw_reply, args.front());
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat(context, ": ", client.ConnectionProblem(args.front())));
    }
    ReplyPtr reply(static_cast<redisReply*>(raw_reply));
    if (reply->type == REDIS_REPLY_ERROR) {
      absl::Status error =
          ErrorReplyStatus(ReplyText(reply.get()), absl::StrCat(context, ": ", Sv(what)));
      if (auth && error.code() == absl::StatusCode::kInternal) {
        // e.g. "ERR AUTH <password> called without any password configured".
        return absl::UnauthenticatedError(error.message());
      }
      return error;
    }
    return absl::OkStatus();
  };

  if (!uri.password.empty()) {
    std::vector<std::string_view> args = {"AUTH"};
    if (!uri.user.empty()) args.push_back(uri.user);
    args.push_back(uri.password);
    absl::Status status = step(args, "AUTH failed", /*auth=*/true);
    if (!status.ok()) return status;
  }
  if (uri.db != 0) {
    const std::string db = std::to_string(uri.db);
    absl::Status status = step({"SELECT", db}, "SELECT failed", false);
    if (!status.ok()) return status;
  }
  absl::Status status = step({"PING"}, "PING failed", false);
  if (!status.ok()) return status;
  return client;
}

std::string RedisClient::ConnectionProblem(std::string_view operation) const {
  if (context_ == nullptr) return absl::StrCat("client used after move (", Sv(operation), ")");
  std::string_view why = context_->errstr;
  if (context_->err == REDIS_ERR_IO &&
      (why == std::strerror(EAGAIN) || why == std::strerror(EWOULDBLOCK) ||
       why == std::strerror(ETIMEDOUT))) {
    return absl::StrCat("no answer to ", Sv(operation), " within ", timeout_.count(),
                        " ms (connection abandoned)");
  }
  if (why.empty()) why = "unknown error";
  return absl::StrCat("connection lost during ", Sv(operation), ": ", Sv(why));
}

absl::Status RedisClient::ConnectionError(std::string_view operation) const {
  if (context_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("Redis client used after move (", Sv(operation), ")"));
  }
  return absl::UnavailableError(
      absl::StrCat("Redis at ", description_, ": ", ConnectionProblem(operation)));
}

absl::Status RedisClient::Append(const std::vector<std::string_view>& args,
                                 std::string_view operation) {
  if (!ok()) return ConnectionError(operation);
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (std::string_view arg : args) {
    argv.push_back(arg.data());
    argvlen.push_back(arg.size());
  }
  if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                             argvlen.data()) != REDIS_OK) {
    return ConnectionError(operation);
  }
  return absl::OkStatus();
}

absl::Status RedisClient::ReadReply(void** reply, std::string_view operation) {
  *reply = nullptr;
  if (!ok()) return ConnectionError(operation);
  if (redisGetReply(context_.get(), reply) != REDIS_OK || *reply == nullptr) {
    if (*reply != nullptr) {
      freeReplyObject(*reply);
      *reply = nullptr;
    }
    return ConnectionError(operation);
  }
  return absl::OkStatus();
}

absl::Status RedisClient::Roundtrip(const std::vector<std::string_view>& args, void** reply,
                                    std::string_view operation) {
  absl::Status status = Append(args, operation);
  if (!status.ok()) return status;
  return ReadReply(reply, operation);
}

absl::StatusOr<RedisReply> RedisClient::Command(const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError("Redis command without arguments");
  ScopedSigpipeBlock no_sigpipe;
  std::vector<std::string_view> views(args.begin(), args.end());
  void* raw = nullptr;
  absl::Status status = Roundtrip(views, &raw, args.front());
  if (!status.ok()) return status;
  ReplyPtr reply(static_cast<redisReply*>(raw));
  return ConvertReply(reply.get());
}

absl::Status RedisClient::Ping() {
  ScopedSigpipeBlock no_sigpipe;
  void* raw = nullptr;
  absl::Status status = Roundtrip({"PING"}, &raw, "PING");
  if (!status.ok()) return status;
  ReplyPtr reply(static_cast<redisReply*>(raw));
  if (reply->type == REDIS_REPLY_ERROR) {
    return ErrorReplyStatus(ReplyText(reply.get()),
                            absl::StrCat("PING failed on Redis at ", description_));
  }
  if (reply->type != REDIS_REPLY_STATUS || ReplyText(reply.get()) != "PONG") {
    return absl::InternalError(absl::StrCat("unexpected PING reply from Redis at ", description_,
                                            ": ", Sv(ReplyTypeName(reply->type))));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RedisClient::Ttl(std::string_view key) {
  ScopedSigpipeBlock no_sigpipe;
  void* raw = nullptr;
  absl::Status status = Roundtrip({"TTL", key}, &raw, "TTL");
  if (!status.ok()) return status;
  ReplyPtr reply(static_cast<redisReply*>(raw));
  if (reply->type == REDIS_REPLY_ERROR) {
    return ErrorReplyStatus(ReplyText(reply.get()),
                            absl::StrCat("TTL failed on Redis at ", description_));
  }
  if (reply->type != REDIS_REPLY_INTEGER) {
    return absl::InternalError(absl::StrCat("unexpected TTL reply from Redis at ", description_,
                                            ": ", Sv(ReplyTypeName(reply->type))));
  }
  return static_cast<int64_t>(reply->integer);
}

absl::StatusOr<int64_t> RedisClient::DeleteByPrefix(std::string_view prefix, int batch) {
  if (batch <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("DeleteByPrefix: the batch must be > 0, got ", batch));
  }
  ScopedSigpipeBlock no_sigpipe;
  const std::string pattern = EscapeGlob(prefix) + ":::*";
  const std::string count = std::to_string(batch);
  std::string cursor = "0";
  std::vector<std::string> found;  // keys of the previous SCAN, to UNLINK
  int64_t removed = 0;
  bool first = true;

  auto failed = [&](const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat(status.message(), " (DeleteByPrefix of '", Sv(prefix),
                                     ":::*' had removed ", removed, " keys)"));
  };

  while (true) {
    const bool scan = first || cursor != "0";
    first = false;
    // One round trip: UNLINK the previous batch, SCAN for the next one.
    if (!found.empty()) {
      std::vector<std::string_view> args;
      args.reserve(found.size() + 1);
      args.push_back("UNLINK");
      args.insert(args.end(), found.begin(), found.end());
      absl::Status status = Append(args, "UNLINK");
      if (!status.ok()) return failed(status);
    }
    if (scan) {
      absl::Status status = Append({"SCAN", cursor, "MATCH", pattern, "COUNT", count}, "SCAN");
      if (!status.ok()) return failed(status);
    }
    absl::Status unlink_error;
    if (!found.empty()) {
      void* raw = nullptr;
      absl::Status status = ReadReply(&raw, "UNLINK");
      if (!status.ok()) return failed(status);
      ReplyPtr reply(static_cast<redisReply*>(raw));
      unlink_error = CountUnlinked(*reply, description_, &removed);
      found.clear();
    }
    if (!scan) {
      if (!unlink_error.ok()) return failed(unlink_error);
      break;
    }
    void* raw = nullptr;
    absl::Status status = ReadReply(&raw, "SCAN");  // read even after an UNLINK error
    if (!status.ok()) return failed(status);
    if (!unlink_error.ok()) {
      freeReplyObject(raw);
      return failed(unlink_error);
    }
    ReplyPtr reply(static_cast<redisReply*>(raw));
    status = ReadScanReply(*reply, description_, &cursor, &found);
    if (!status.ok()) return failed(status);
  }
  return removed;
}

absl::StatusOr<std::vector<std::optional<std::string>>> RedisClient::GetMany(
    const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> values;
  values.reserve(keys.size());
  if (keys.empty()) return values;
  ScopedSigpipeBlock no_sigpipe;
  for (size_t begin = 0; begin < keys.size(); begin += kMaxBatch) {
    const size_t end = std::min(keys.size(), begin + kMaxBatch);
    std::vector<std::string_view> args;
    args.reserve(end - begin + 1);
    args.push_back("MGET");
    args.insert(args.end(), keys.begin() + begin, keys.begin() + end);
    void* raw = nullptr;
    absl::Status status = Roundtrip(args, &raw, "MGET");
    if (!status.ok()) return status;
    ReplyPtr reply(static_cast<redisReply*>(raw));
    if (reply->type == REDIS_REPLY_ERROR) {
      return ErrorReplyStatus(ReplyText(reply.get()),
                              absl::StrCat("MGET failed on Redis at ", description_));
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != end - begin) {
      return absl::InternalError(absl::StrCat("unexpected MGET reply from Redis at ", description_,
                                              ": ", Sv(ReplyTypeName(reply->type)), " of ",
                                              reply->elements, " for ", end - begin, " keys"));
    }
    for (size_t i = 0; i < reply->elements; ++i) {
      const redisReply* element = reply->element[i];
      if (element->type == REDIS_REPLY_STRING) {
        values.emplace_back(std::string(ReplyText(element)));
      } else if (element->type == REDIS_REPLY_NIL) {
        values.emplace_back(std::nullopt);
      } else {
        return absl::InternalError(absl::StrCat("unexpected MGET element from Redis at ",
                                                description_, ": ",
                                                Sv(ReplyTypeName(element->type))));
      }
    }
  }
  return values;
}

absl::Status RedisClient::WriteMany(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& writes,
    int64_t ttl_seconds) {
  if (ttl_seconds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("WriteMany: the TTL must be >= 0 seconds, got ", ttl_seconds));
  }
  if (writes.empty()) return absl::OkStatus();
  ScopedSigpipeBlock no_sigpipe;
  const std::string ttl = std::to_string(ttl_seconds);
  for (size_t begin = 0; begin < writes.size(); begin += kMaxBatch) {
    const size_t end = std::min(writes.size(), begin + kMaxBatch);
    for (size_t i = begin; i < end; ++i) {
      const auto& [key, value] = writes[i];
      absl::Status status;
      if (!value.has_value()) {
        status = Append({"UNLINK", key}, "WriteMany (UNLINK)");
      } else if (ttl_seconds > 0) {
        status = Append({"SET", key, *value, "EX", ttl}, "WriteMany (SET)");
      } else {
        status = Append({"SET", key, *value}, "WriteMany (SET)");
      }
      if (!status.ok()) return status;
    }
    // Read every reply of the round (keeps the connection in step), keep the first error.
    absl::Status first_error;
    for (size_t i = begin; i < end; ++i) {
      void* raw = nullptr;
      absl::Status status = ReadReply(&raw, "WriteMany");
      if (!status.ok()) return status;
      ReplyPtr reply(static_cast<redisReply*>(raw));
      if (!first_error.ok()) continue;
      const bool is_delete = !writes[i].second.has_value();
      const char* command = is_delete ? "UNLINK" : "SET";
      if (reply->type == REDIS_REPLY_ERROR) {
        first_error = ErrorReplyStatus(
            ReplyText(reply.get()),
            absl::StrCat(command, " of write ", i, " failed on Redis at ", description_));
      } else if (is_delete
                     ? reply->type != REDIS_REPLY_INTEGER
                     : (reply->type != REDIS_REPLY_STATUS || ReplyText(reply.get()) != "OK")) {
        first_error =
            absl::InternalError(absl::StrCat("unexpected ", command, " reply from Redis at ",
                                             description_, ": ", Sv(ReplyTypeName(reply->type))));
      }
    }
    if (!first_error.ok()) return first_error;
  }
  return absl::OkStatus();
}

}  // namespace protean_admin::storage
