#ifndef PROTEAN_ADMIN_STORAGE_REDIS_CLIENT_H_
#define PROTEAN_ADMIN_STORAGE_REDIS_CLIENT_H_

// A blocking Redis client over hiredis for cache-backed projections
// (docs/protean-compatibility.md §5): documents live at "<prefix>:::<key>" with a TTL;
// truncation SCANs for "<prefix>:::*" and UNLINKs in batches.
//
// Errors are absl::Status values:
//   Unavailable      cannot connect, connection lost, or a command timed out. Once the
//                    connection is lost the client stays broken: every later call fails
//                    with Unavailable (connect again for a new client).
//   Unauthenticated  the server refused the credentials (WRONGPASS) or wants some (NOAUTH).
//   PermissionDenied the user lacks the ACL permission for a command (NOPERM).
//   InvalidArgument  bad URI, bad arguments, SELECT of a database that does not exist.
//   Internal         any other error reply, or an unexpected reply shape.
// Messages name the server ("host:port/db"), never the password: "cannot connect to Redis at
// host:port/db: <why>" from Connect, "Redis at host:port/db: connection lost during <command>:
// <why>" or "...: no answer to <command> within <timeout> ms" later. SIGPIPE is blocked in the
// calling thread while the client writes, so a server going away never kills the process.
// Host names are resolved by getaddrinfo, which the timeout does not bound.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct redisContext;

namespace protean_admin::storage {

// redis://[[user]:password@]host[:port][/db]. User and password may be percent-encoded;
// an IPv6 host is written in brackets ("redis://[::1]:6379/0").
struct RedisUri {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user;
  std::string password;

  // InvalidArgument naming the problem (the message never contains the password).
  static absl::StatusOr<RedisUri> Parse(std::string_view uri);

  // "host:port/db" (IPv6 hosts in brackets): for messages, without credentials.
  std::string Describe() const;
};

// The key of a document: "<prefix>:::<key>".
std::string CacheKey(std::string_view prefix, std::string_view key);

// Escapes the glob metacharacters of Redis MATCH patterns (* ? [ ] \) with a backslash, so
// that the result matches exactly `text`.
std::string EscapeGlob(std::string_view text);

// One reply of RedisClient::Command, simplified: hiredis' reply types.
struct RedisReply {
  enum class Type { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string str;                   // kString, kStatus, kError
  int64_t integer = 0;               // kInteger
  std::vector<RedisReply> elements;  // kArray
};

// One connection to one database. Movable, not copyable; closed on destruction (redisFree).
// Not thread-safe: use one client per thread.
class RedisClient {
 public:
  // Connects (with `timeout` for the TCP connect and then for every command), AUTHs when
  // the URI has a password, SELECTs the database and PINGs. Unavailable
  // "cannot connect to Redis at host:port/db: <why>"; other codes (see above) for
  // authentication or SELECT failures, with the same prefix.
  static absl::StatusOr<RedisClient> Connect(
      std::string_view uri, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  static absl::StatusOr<RedisClient> Connect(const RedisUri& uri,
                                             std::chrono::milliseconds timeout);

  RedisClient(RedisClient&& other) noexcept;
  RedisClient& operator=(RedisClient&& other) noexcept;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  ~RedisClient();

  absl::Status Ping();

  // SCAN MATCH <EscapeGlob(prefix)>:::* COUNT batch, UNLINK each batch of keys found (the
  // UNLINK of one batch travels in the same round trip as the next SCAN). Returns the number
  // of keys removed; no match is 0, not an error. Keys written while it runs may survive.
  // A failure part-way says how many keys were removed before it.
  absl::StatusOr<int64_t> DeleteByPrefix(std::string_view prefix, int batch = 1000);

  // MGET (pipelined in chunks of kMaxBatch keys); nullopt for absent keys, same order as
  // `keys`. A key holding a non-string value reads as nullopt (MGET's behaviour).
  absl::StatusOr<std::vector<std::optional<std::string>>> GetMany(
      const std::vector<std::string>& keys);

  // Pipelined: SET key value EX ttl_seconds for each value, UNLINK key for each nullopt,
  // in order (a later write to the same key wins). ttl_seconds == 0 writes without expiry;
  // negative is InvalidArgument. Every reply is checked; the first error is returned (the
  // writes before it, and the other successful ones, stay: this is not a transaction).
  // Sent in rounds of kMaxBatch commands to bound memory.
  absl::Status WriteMany(
      const std::vector<std::pair<std::string, std::optional<std::string>>>& writes,
      int64_t ttl_seconds);

  // TTL of a key in seconds (-2 absent, -1 no TTL): for tests and diagnostics.
  absl::StatusOr<int64_t> Ttl(std::string_view key);

  // Runs any command (binary-safe arguments). An error reply is returned as a reply of type
  // kError, not as a status; statuses are for connection problems only.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args);

  // "host:port/db", for messages.
  const std::string& Describe() const { return description_; }
  // False once the connection is lost (or after a move).
  bool ok() const;

  // Commands per pipelined round in GetMany/WriteMany.
  static constexpr size_t kMaxBatch = 10000;

 private:
  struct Deleter {
    void operator()(redisContext* context) const;
  };
  RedisClient(redisContext* context, std::string description);

  // Sends `args` and reads one reply into *reply (owned by the caller; freeReplyObject).
  absl::Status Roundtrip(const std::vector<std::string_view>& args, void** reply,
                         std::string_view operation);
  absl::Status Append(const std::vector<std::string_view>& args, std::string_view operation);
  absl::Status ReadReply(void** reply, std::string_view operation);
  // Why the context is in error: "connection lost during X: why" or "no answer to X ...".
  std::string ConnectionProblem(std::string_view operation) const;
  // Unavailable for a context in error (FailedPrecondition when moved-from).
  absl::Status ConnectionError(std::string_view operation) const;

  std::unique_ptr<redisContext, Deleter> context_;
  std::string description_;
  std::chrono::milliseconds timeout_{0};
  bool use_unlink_ = true;  // false after a server without UNLINK (< 4.0): DEL instead
};

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_REDIS_CLIENT_H_
