#ifndef PROTEAN_ADMIN_DOMAIN_MODEL_H_
#define PROTEAN_ADMIN_DOMAIN_MODEL_H_

// The in-memory model of one domain, as declared in domain.toml (docs/domain-toml.md).
// Built and validated by the loader (loader.h); read-only afterwards. Every name-keyed
// collection keeps declaration order.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace protean_admin::domain {

struct DatabaseConfig {
  std::string name;          // key under [databases.<name>]
  std::string provider;      // "postgresql"
  std::string database_uri;  // after ${VAR} substitution
  std::string schema;        // may be empty: the connection's default ("public")
  // Non-empty when database_uri was built from a ${VAR|default}: DefaultedValueNote's text
  // (env_substitution.h), for WithUriNote on errors that show the URI.
  std::string uri_note = {};
};

struct EventStoreConfig {
  std::string provider;  // "message_db"
  std::string database_uri;
  std::string uri_note = {};  // as DatabaseConfig::uri_note
};

struct CacheConfig {
  std::string name;      // key under [caches.<name>]
  std::string provider;  // "redis"
  std::string uri;       // URI key: redis://[:password@]host:port/db
  int64_t ttl_seconds = 300;
  std::string uri_note = {};  // as DatabaseConfig::uri_note
};

struct HealthConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
};

struct Aggregate {
  std::string name;             // "User"
  std::string stream_category;  // full category: "test::user"
};

struct Event {
  std::string name;         // "Registered"
  std::string aggregate;    // aggregate name
  int version = 1;          // current version
  std::string type_string;  // current type string: "Test.Registered.v1"
};

// One upcasting step of an event from one version to the next one of its chain.
// Applied to a JSON object payload in this order: rename, remove, defaults, set.
struct Upcaster {
  std::string event;  // event name
  int from_version = 0;
  int to_version = 0;
  std::vector<std::pair<std::string, std::string>> rename;  // old field -> new field
  std::vector<std::string> remove;
  nlohmann::json defaults = nlohmann::json::object();  // only where absent
  nlohmann::json set = nlohmann::json::object();       // always
};

// Attributes of the stored message that a parameter can read (":$name").
enum class MessageAttribute {
  kGlobalPosition,  // :$global_position
  kPosition,        // :$position
  kStreamName,      // :$stream_name
  kStreamId,        // :$stream_id   (stream name after the first '-')
  kType,            // :$type
  kVersion,         // :$version     (the version of the stored type string)
  kTime,            // :$time
  kMessageId,       // :$message_id
};

// A parameter ":field.sub" (payload path) or ":$attribute" (message attribute).
// A payload path that is missing reads as JSON null (SQL NULL).
struct Parameter {
  std::optional<MessageAttribute> attribute;  // set for ":$..."
  std::vector<std::string> path;              // payload path otherwise; never empty then
  std::string text;                           // as written, e.g. ":user_id"
};

// An action-form value: a reference to a parameter, or a literal (JSON null for `{ null =
// true }`, the explicit NULL).
struct Value {
  std::optional<Parameter> parameter;
  bool negate = false;     // "-:param": the parameter's number negated
  nlohmann::json literal;  // used when parameter is empty
};

// One SQL statement of an SQL-form handler, rewritten for a prepared statement:
// each ":name" occurrence replaced by the next of $1..$n, "::casts", string literals, quoted
// identifiers and comments left untouched.
struct SqlStatement {
  std::string original;
  std::string text;                   // with $1..$n
  std::vector<Parameter> parameters;  // parameters[i] binds $(i+1)
  std::vector<size_t> offsets;        // offsets[i]: where "$(i+1)" starts in text
  std::string where;                  // "domain.toml:31" (the statement's line); may be empty
};

struct Handler {
  enum class Form { kSql, kAction, kLua };

  std::string event;  // event name the handler is for
  Form form = Form::kAction;
  std::string where;  // "domain.toml:27" (the handler's table); may be empty

  // SQL form: statements run in order.
  std::vector<SqlStatement> sql;

  // Action form (docs/domain-toml.md "Action form"). key defaults to
  // ":<projection key column>". Applied to an absent row: insert and set values create it;
  // to a present one: set, then update values assigned, then increments added.
  Value key;
  std::vector<std::pair<std::string, Value>> set;
  std::vector<std::pair<std::string, Value>> insert;
  std::vector<std::pair<std::string, Value>> increment;
  std::vector<std::pair<std::string, Value>> update;  // only when the row exists
  bool remove = false;                                // `delete = true`

  // Lua form (docs/domain-toml.md): the handler's source, and the line of domain.toml holding
  // its first line (errors read "domain.toml:<lua_line + line - 1>: ...").
  std::string lua;
  int lua_line = 0;
};

struct Projection {
  std::string name;                  // "Balances"
  std::string key;                   // identifier column
  std::string table;                 // default underscore(name)
  std::string schema;                // optional; empty means the database's schema or the default
  std::string database;              // "default" unless given; empty when cache-backed
  std::optional<std::string> cache;  // cache name when cache-backed
  // Optional column declarations (name, SQL type), for creating a missing table.
  std::vector<std::pair<std::string, std::string>> columns;

  bool cache_backed() const { return cache.has_value(); }
  // Cache key prefix: underscore(name), keys are "<prefix>:::<key>".
  std::string cache_prefix;
};

// How Protean's server feeds a projector (docs/domain-toml.md "Subscription type").
enum class SubscriptionType {
  kEventStore,  // "event_store": reads Message DB, keeps its place in position streams
  kStream,      // "stream": reads Redis streams (consumer groups), no Message DB position
};

struct Projector {
  std::string name;                       // "TransactionProjector"
  std::string projector_for;              // projection name
  std::vector<std::string> categories;    // full stream categories, declaration order
  std::optional<std::string> subscriber;  // Protean fqn, enables hand-off
  // Resolved: the projector's own key, [server.subscriptions.<Name>], [server]
  // default_subscription_type, else event_store.
  SubscriptionType subscription_type = SubscriptionType::kEventStore;
  std::vector<Handler> handlers;  // declaration order

  // The handler for an event name, or nullptr.
  const Handler* FindHandler(std::string_view event_name) const {
    for (const Handler& h : handlers) {
      if (h.event == event_name) return &h;
    }
    return nullptr;
  }
};

// What a stored type string resolves to.
struct Resolution {
  const Event* event = nullptr;  // nullptr: unresolvable (unknown type, or no chain)
  int stored_version = 0;
  std::vector<const Upcaster*> chain;  // steps to apply, in order; empty when current
};

struct Domain {
  std::string name;             // as declared: "Test"
  std::string normalized_name;  // "test"
  std::string camel_case_name;  // "Test"
  std::string source_file;      // path it was loaded from (for messages)

  EventStoreConfig event_store;
  std::vector<DatabaseConfig> databases;
  std::vector<CacheConfig> caches;
  HealthConfig health;

  std::vector<Aggregate> aggregates;
  std::vector<Event> events;
  std::vector<Upcaster> upcasters;
  std::vector<Projection> projections;
  std::vector<Projector> projectors;

  // Registry queries.
  const Projection* FindProjection(std::string_view name) const;
  const Aggregate* FindAggregate(std::string_view name) const;
  const Event* FindEvent(std::string_view name) const;
  const DatabaseConfig* FindDatabase(std::string_view name) const;
  const CacheConfig* FindCache(std::string_view name) const;
  // Projectors whose projector_for is `projection`, in declaration order.
  std::vector<const Projector*> ProjectorsFor(std::string_view projection) const;
  // Resolves a stored type string ("Test.Transacted.v1") to its event and upcaster chain.
  // Uses type_index when it has been built, a scan of events/upcasters otherwise.
  Resolution Resolve(std::string_view type_string) const;

  // Index of every resolvable type string (current versions and every version an upcaster
  // chain starts from), built by the loader after validation. Holds indices, so copies of
  // the Domain stay valid. Rebuild it (BuildTypeIndex) after changing events or upcasters.
  struct TypeIndexEntry {
    size_t event = 0;  // index in events
    int stored_version = 0;
    std::vector<size_t> chain;  // indices in upcasters, in order
  };
  std::map<std::string, TypeIndexEntry, std::less<>> type_index;
  void BuildTypeIndex();
};

}  // namespace protean_admin::domain

#endif  // PROTEAN_ADMIN_DOMAIN_MODEL_H_
