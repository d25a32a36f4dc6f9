#include "bench/workload.h"

#include <libpq-fe.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/pg_connection.h"

namespace protean_admin::bench {
namespace {

using storage::PgConnection;

enum class Kind : uint8_t { kRegistered, kTransacted, kProfileUpdated, kUnknown };

// One event of the history, before formatting. Formatting derives everything else
// (ids, names, times) deterministically from the seed and these fields.
struct Row {
  Kind kind;
  bool v1;           // Transacted stored at v1
  int32_t position;  // in its stream
  int64_t user;      // user index
  int64_t entity;    // transaction / unknown-event index (their own streams)
  int64_t cents;     // amount in cents (signed)
};

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A v4-shaped UUID derived from (seed, salt, index).
std::string Uuid(uint64_t seed, uint64_t salt, int64_t index) {
  uint64_t hi = SplitMix(seed * 0x100000001b3ULL ^ SplitMix(salt) ^ static_cast<uint64_t>(index));
  uint64_t lo = SplitMix(hi ^ 0x5851f42d4c957f2dULL);
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

constexpr uint64_t kSaltUser = 1, kSaltTransaction = 2, kSaltMessage = 3, kSaltCorrelation = 4,
                   kSaltUnknown = 5, kSaltName = 6, kSaltTime = 7;

constexpr std::array<const char*, 16> kFirstNames = {
    "John",     "Jane",   "Ada",     "Alan",   "Grace", "Linus",  "Barbara", "Ken",
    "Margaret", "Dennis", "Frances", "Edsger", "Radia", "Donald", "Hedy",    "Tim"};
constexpr std::array<const char*, 16> kLastNames = {
    "Doe",      "Smith",   "Lovelace", "Turing",   "Hopper",  "Torvalds", "Liskov", "Thompson",
    "Hamilton", "Ritchie", "Allen",    "Dijkstra", "Perlman", "Knuth",    "Lamarr", "Berners"};

// Python's repr of the float cents/100 (the shortest round-trip form): 12.34, 12.3, 12.0.
void AppendAmount(std::string& out, int64_t cents) {
  if (cents < 0) {
    out += '-';
    cents = -cents;
  }
  absl::StrAppend(&out, cents / 100, ".");
  int64_t frac = cents % 100;
  if (frac == 0) {
    out += '0';
  } else if (frac % 10 == 0) {
    out += static_cast<char>('0' + frac / 10);
  } else {
    out += static_cast<char>('0' + frac / 10);
    out += static_cast<char>('0' + frac % 10);
  }
}

// "2024-01-01 00:00:00.037000" (sep ' ') or "2024-01-01T00:00:00.037000+00:00" (sep 'T').
void AppendTime(std::string& out, int64_t micros, char sep) {
  time_t seconds = static_cast<time_t>(micros / 1000000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  char buf[48];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d%c%02d:%02d:%02d.%06lld",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, sep, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, static_cast<long long>(micros % 1000000));
  out.append(buf, n);
  if (sep == 'T') out += "+00:00";
}

void AppendHex(std::string& out, const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
}

class Formatter {
 public:
  Formatter(const WorkloadOptions& options, const BankNames& names)
      : options_(options), names_(names), norm_(NormalizedName(options.domain_name)) {}

  // Appends one COPY text-format line for `row` at global position `gp`.
  void Append(std::string& out, const Row& row, int64_t gp) const {
    std::string stream, type, data, fqn, version = "v1", category;
    std::string user_id = Uuid(options_.seed, kSaltUser, row.user);
    // The payload, serialised as Protean's checksum wants it: sorted keys, "," and ":".
    switch (row.kind) {
      case Kind::kRegistered: {
        category = names_.user_category;
        stream = absl::StrCat(category, "-", user_id);
        type = names_.registered;
        fqn = absl::StrCat(norm_, ".user.Registered");
        uint64_t h = SplitMix(options_.seed ^ SplitMix(kSaltName) ^ row.user);
        std::string first = kFirstNames[h % kFirstNames.size()];
        std::string last = kLastNames[(h >> 8) % kLastNames.size()];
        std::string email = absl::StrCat(first, ".", last, row.user, "@example.com");
        std::transform(email.begin(), email.end(), email.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        data = absl::StrCat(R"({"email":")", email, R"(","name":")", first, " ", last,
                            R"(","user_id":")", user_id, R"("})");
        break;
      }
      case Kind::kProfileUpdated: {
        category = names_.user_category;
        stream = absl::StrCat(category, "-", user_id);
        type = names_.profile_updated;
        fqn = absl::StrCat(norm_, ".user.ProfileUpdated");
        data = absl::StrCat(R"({"new_name":"Renamed )", row.entity, R"(","user_id":")", user_id,
                            R"("})");
        break;
      }
      case Kind::kTransacted: {
        category = names_.transaction_category;
        stream = absl::StrCat(category, "-", Uuid(options_.seed, kSaltTransaction, row.entity));
        fqn = absl::StrCat(norm_, ".transaction.Transacted");
        if (row.v1) {
          type = names_.transacted_v1;
          data = R"({"amt":)";
          AppendAmount(data, row.cents);
          absl::StrAppend(&data, R"(,"user_id":")", user_id, R"("})");
        } else {
          type = names_.transacted_v2;
          version = "v2";
          data = R"({"amount":)";
          AppendAmount(data, row.cents);
          absl::StrAppend(&data, R"(,"currency":"USD","user_id":")", user_id, R"("})");
        }
        break;
      }
      case Kind::kUnknown: {
        category = names_.transaction_category;
        stream = absl::StrCat(category, "-", Uuid(options_.seed, kSaltUnknown, row.entity));
        type = names_.unknown;
        fqn = absl::StrCat(norm_, ".transaction.LegacyBonusGranted");
        data = R"({"amt":)";
        AppendAmount(data, row.cents);
        absl::StrAppend(&data, R"(,"user_id":")", user_id, R"("})");
        break;
      }
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);

    // Strictly increasing times: 37 ms apart plus up to 20 ms of jitter.
    int64_t micros = 1704067200LL * 1000000 + gp * 37000 +
                     static_cast<int64_t>(SplitMix(options_.seed ^ kSaltTime ^ gp) % 20000);
    std::string message_id = absl::StrCat(stream, "-", row.position, ".1");

    absl::StrAppend(&out, gp, "\t", row.position, "\t");
    AppendTime(out, micros, ' ');
    absl::StrAppend(&out, "\t", stream, "\t", type, "\t", data, "\t");
    // metadata (docs/protean-compatibility.md §3)
    absl::StrAppend(&out, R"({"headers":{"id":")", message_id, R"(","time":")");
    AppendTime(out, micros, 'T');
    absl::StrAppend(&out, R"(","type":")", type, R"(","stream":")", stream,
                    R"(","traceparent":null,"idempotency_key":null,"deadline":null},)",
                    R"("envelope":{"specversion":"1.0","checksum":")");
    AppendHex(out, digest, sizeof(digest));
    absl::StrAppend(&out, R"("},"domain":{"fqn":")", fqn,
                    R"(","kind":"EVENT","origin_stream":null,"stream_category":")", category,
                    R"(","version":")", version, R"(","sequence_id":")", row.position,
                    R"(.1","asynchronous":true,"expected_version":)");
    if (row.position == 0) {
      out += "null";
    } else {
      absl::StrAppend(&out, row.position - 1);
    }
    absl::StrAppend(&out, R"(,"priority":0,"correlation_id":")",
                    Uuid(options_.seed, kSaltCorrelation, gp),
                    R"(","causation_id":null},"event_store":null,"extensions":{}})", "\t",
                    Uuid(options_.seed, kSaltMessage, gp), "\n");
  }

 private:
  const WorkloadOptions& options_;
  const BankNames& names_;
  std::string norm_;
};

// The history in global order: registrations spread over the whole history, each
// transaction for a user registered before it, profile updates likewise.
std::vector<Row> Schedule(const WorkloadOptions& o, WorkloadSummary& summary) {
  std::mt19937_64 rng(o.seed);
  int64_t left_users = o.users, left_tx = o.transactions, left_profile = o.profile_updates,
          left_unknown = o.unknown_events;
  std::vector<int32_t> user_position;  // next position of each registered user's stream
  user_position.reserve(o.users);
  std::vector<Row> rows;
  rows.reserve(o.users + o.transactions + o.profile_updates + o.unknown_events);
  int64_t tx_index = 0, unknown_index = 0;
  const uint64_t v1_threshold = static_cast<uint64_t>(o.v1_fraction * 1000000.0);
  while (left_users + left_tx + left_profile + left_unknown > 0) {
    int64_t registered = static_cast<int64_t>(user_position.size());
    // Without a registered user only a registration can come next.
    int64_t others = registered > 0 ? left_tx + left_profile + left_unknown : 0;
    if (left_users == 0 && others == 0) break;  // nothing possible (no users at all)
    uint64_t pick = rng() % static_cast<uint64_t>(left_users + others);
    auto amount = [&] {
      int64_t cents = 1 + static_cast<int64_t>(rng() % 100000);  // 0.01 .. 1000.00
      return (rng() % 10 < 3) ? -cents : cents;                  // 30% withdrawals
    };
    if (pick < static_cast<uint64_t>(left_users)) {
      rows.push_back({Kind::kRegistered, false, 0, registered, 0, 0});
      user_position.push_back(1);
      --left_users;
      continue;
    }
    pick -= left_users;
    int64_t user = static_cast<int64_t>(rng() % static_cast<uint64_t>(registered));
    if (pick < static_cast<uint64_t>(left_tx)) {
      bool v1 = rng() % 1000000 < v1_threshold;
      rows.push_back({Kind::kTransacted, v1, 0, user, tx_index++, amount()});
      summary.transactions_v1 += v1 ? 1 : 0;
      --left_tx;
    } else if (pick < static_cast<uint64_t>(left_tx + left_profile)) {
      rows.push_back({Kind::kProfileUpdated, false, user_position[user]++, user,
                      static_cast<int64_t>(rows.size()), 0});
      --left_profile;
    } else {
      rows.push_back({Kind::kUnknown, false, 0, user, unknown_index++, amount()});
      --left_unknown;
    }
  }
  summary.users = o.users - left_users;
  summary.transactions = o.transactions - left_tx;
  summary.profile_updates = o.profile_updates - left_profile;
  summary.unknown_events = o.unknown_events - left_unknown;
  summary.events = static_cast<int64_t>(rows.size());
  return rows;
}

absl::Status CopyChunks(std::string conninfo, const std::vector<Row>* rows,
                        const Formatter* formatter, int64_t base, int worker, int workers) {
  absl::StatusOr<PgConnection> conn = PgConnection::Connect(conninfo);
  if (!conn.ok()) return conn.status();
  PGconn* pg = conn->get();
  auto started = conn->Exec("SET synchronous_commit = off");
  if (!started.ok()) return started.status();
  {
    storage::PgResult copy(PQexec(pg,
                                  "COPY message_store.messages (global_position, position, "
                                  "time, stream_name, type, data, metadata, id) FROM STDIN"));
    if (PQresultStatus(copy.get()) != PGRES_COPY_IN) {
      return storage::ResultStatus(pg, copy.get(), "COPY into message_store.messages");
    }
  }
  constexpr int64_t kChunk = 4096;
  const int64_t n = static_cast<int64_t>(rows->size());
  std::string buffer;
  buffer.reserve(kChunk * 1200);
  for (int64_t start = worker * kChunk; start < n; start += workers * kChunk) {
    buffer.clear();
    int64_t end = std::min(n, start + kChunk);
    for (int64_t i = start; i < end; ++i) formatter->Append(buffer, (*rows)[i], base + i + 1);
    if (PQputCopyData(pg, buffer.data(), static_cast<int>(buffer.size())) != 1) {
      return absl::UnavailableError(absl::StrCat("COPY failed: ", PQerrorMessage(pg)));
    }
  }
  if (PQputCopyEnd(pg, nullptr) != 1) {
    return absl::UnavailableError(absl::StrCat("COPY failed: ", PQerrorMessage(pg)));
  }
  storage::PgResult done(PQgetResult(pg));
  absl::Status status = storage::ResultStatus(pg, done.get(), "COPY into message_store.messages");
  while (PGresult* extra = PQgetResult(pg)) PQclear(extra);
  return status;
}

}  // namespace

std::string NormalizedName(std::string_view name) {
  std::string out;
  bool pending_separator = false;
  for (unsigned char c : name) {
    if (std::isalnum(c)) {
      if (pending_separator && !out.empty()) out += '_';
      pending_separator = false;
      out += static_cast<char>(std::tolower(c));
    } else {
      pending_separator = true;
    }
  }
  return out;
}

std::string CamelCaseName(std::string_view name) {
  std::string out;
  bool word_start = true;
  for (unsigned char c : name) {
    if (!std::isalnum(c)) {
      word_start = true;
      continue;
    }
    out += static_cast<char>(word_start ? std::toupper(c) : std::tolower(c));
    word_start = false;
  }
  return out;
}

BankNames NamesFor(const WorkloadOptions& options) {
  std::string norm = NormalizedName(options.domain_name);
  std::string camel = CamelCaseName(options.domain_name);
  BankNames n;
  n.user_category = absl::StrCat(norm, "::", options.user_category);
  n.transaction_category = absl::StrCat(norm, "::", options.transaction_category);
  n.registered = absl::StrCat(camel, ".Registered.v1");
  n.transacted_v1 = absl::StrCat(camel, ".Transacted.v1");
  n.transacted_v2 = absl::StrCat(camel, ".Transacted.v2");
  n.profile_updated = absl::StrCat(camel, ".ProfileUpdated.v1");
  n.unknown = absl::StrCat(camel, ".LegacyBonusGranted.v1");
  return n;
}

WorkloadOptions SizesForEvents(int64_t events) {
  WorkloadOptions o;
  o.users = std::max<int64_t>(1, events / 10);
  o.transactions = std::max<int64_t>(0, events - o.users);
  o.profile_updates = events / 100;
  o.unknown_events = std::min<int64_t>(10, events / 100);
  return o;
}

absl::StatusOr<WorkloadSummary> GenerateHistory(std::string_view conninfo,
                                                const WorkloadOptions& options) {
  auto started = std::chrono::steady_clock::now();
  if (options.users < 0 || options.transactions < 0 || options.profile_updates < 0 ||
      options.unknown_events < 0 || options.v1_fraction < 0 || options.v1_fraction > 1) {
    return absl::InvalidArgumentError("workload sizes must be >= 0, v1 fraction in [0, 1]");
  }
  absl::StatusOr<PgConnection> conn = PgConnection::Connect(conninfo);
  if (!conn.ok()) return conn.status();
  auto head = conn->Exec("SELECT coalesce(max(global_position), 0) FROM message_store.messages");
  if (!head.ok()) return head.status();
  const int64_t base = std::stoll(std::string(head->Get(0, 0)));

  WorkloadSummary summary;
  BankNames names = NamesFor(options);
  std::vector<Row> rows = Schedule(options, summary);
  Formatter formatter(options, names);

  int workers = std::max(1, options.connections);
  std::vector<absl::Status> statuses(workers);
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      statuses[w] = CopyChunks(std::string(conninfo), &rows, &formatter, base, w, workers);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : statuses) {
    if (!s.ok()) return s;
  }
  summary.first_global_position = base + 1;
  summary.last_global_position = base + summary.events;
  // The sequence continues after the rows written with explicit positions.
  auto setval = conn->Exec(
      "SELECT setval(pg_get_serial_sequence('message_store.messages', 'global_position'), "
      "greatest((SELECT max(global_position) FROM message_store.messages), 1)); "
      "ANALYZE message_store.messages");
  if (!setval.ok()) return setval.status();
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace protean_admin::bench
