// Loading domain.toml: TOML parsing (toml++), instance selection, PROTEAN_ENV overlay,
// ${VAR} substitution, model building and validation. docs/domain-toml.md describes the
// format as implemented.
//
// Overlay rule: the top-level keys of a domain table are the known sections (domain,
// event_store, databases, caches, server, aggregates, events, upcasters, projections,
// projectors), the tolerated Protean keys (kTolerated, read and ignored) and environment
// overlays. Any other top-level key must be a table and is an environment overlay: its own
// keys must be known sections or tolerated keys (checked whether or not it is active). When
// PROTEAN_ENV names one of them, it is deep-merged over the root (tables merge key by key;
// values and arrays, arrays of tables included, replace). All overlays are then removed,
// and every remaining string has ${VAR} substituted (inactive overlays are not substituted).
// Any other unknown key, at any depth, is an error naming file, line, column and key.

#include "domain/loader.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "domain/discovery.h"
#include "domain/env_substitution.h"
#include "domain/names.h"
#include "domain/parameters.h"
#include "domain/sql_type.h"
#include "domain/upcasters.h"

namespace protean_admin::domain {
namespace {

constexpr std::string_view kPrefix = "Error loading Protean domain: ";

const std::set<std::string, std::less<>> kSections = {
    "domain",     "event_store", "databases", "caches",      "server",
    "aggregates", "events",      "upcasters", "projections", "projectors"};

// Protean configuration keys that have no meaning here: accepted and ignored.
const std::set<std::string, std::less<>> kTolerated = {"debug",
                                                       "testing",
                                                       "secret_key",
                                                       "identity_strategy",
                                                       "identity_type",
                                                       "identity_function",
                                                       "command_processing",
                                                       "event_processing",
                                                       "message_processing",
                                                       "snapshot_threshold",
                                                       "enable_outbox",
                                                       "brokers",
                                                       "custom",
                                                       "outbox",
                                                       "idempotency"};

std::string Str(std::string_view sv) { return std::string(sv); }
std::string Msg(const absl::Status& status) { return std::string(status.message()); }

std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    default:
      return "nothing";
  }
}

bool IsName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

std::string JoinKey(std::string_view path, std::string_view key) {
  if (path.empty()) return Str(key);
  return absl::StrCat(Str(path), ".", Str(key));
}

struct Entry {
  const toml::key* key;
  toml::node* node;
};

// Entries of a table in declaration order (toml++ tables are sorted by key).
std::vector<Entry> Ordered(toml::table& table) {
  std::vector<Entry> entries;
  for (auto&& [k, v] : table) entries.push_back(Entry{&k, &v});
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    const auto& sa = a.key->source().begin;
    const auto& sb = b.key->source().begin;
    return std::pair(sa.line, sa.column) < std::pair(sb.line, sb.column);
  });
  return entries;
}

void DeepMerge(toml::table& base, toml::table& overlay) {
  for (auto&& [k, v] : overlay) {
    toml::node* existing = base.get(k.str());
    if (existing != nullptr && existing->is_table() && v.is_table()) {
      DeepMerge(*existing->as_table(), *v.as_table());
    } else {
      // Moving keeps the overlay's source positions for messages.
      v.visit([&, &key = k](auto&& concrete) { base.insert_or_assign(key, std::move(concrete)); });
    }
  }
}

class Loader;

// Reads the keys of one table and reports the ones nobody read.
class Fields {
 public:
  Fields(Loader* loader, toml::table& table, std::string path)
      : loader_(loader), table_(table), path_(std::move(path)) {}

  toml::node* Take(std::string_view key) {
    seen_.insert(Str(key));
    return table_.get(key);
  }
  std::string Path(std::string_view key) const { return JoinKey(path_, key); }
  const std::string& path() const { return path_; }
  toml::table& table() { return table_; }

  absl::Status String(std::string_view key, std::string* out, bool required = false);
  // A URI string: as String, and `*note` gets DefaultedValueNote's text when the value was
  // built from a ${VAR|default} (empty otherwise).
  absl::Status UriString(std::string_view key, std::string* out, std::string* note);
  absl::Status Int(std::string_view key, int64_t* out, bool required = false,
                   int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  absl::Status Bool(std::string_view key, bool* out);
  // Table value (nullptr when absent).
  absl::Status Table(std::string_view key, toml::table** out, bool required = false);
  // Keys nobody read are errors.
  absl::Status Finish();

 private:
  Loader* loader_;
  toml::table& table_;
  std::string path_;
  std::set<std::string, std::less<>> seen_;
};

class Loader {
 public:
  Loader(std::string_view source, const LoadOptions& options)
      : source_(source), options_(options) {}

  absl::StatusOr<Domain> Run(std::string_view text, std::string_view instance);

  absl::Status Error(const toml::source_region& where, std::string_view key,
                     std::string_view message) const {
    std::string location = source_;
    if (where.begin.line > 0) {
      absl::StrAppend(&location, ":", where.begin.line, ":", where.begin.column);
    }
    if (key.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(Str(kPrefix), location, ": ", Str(message)));
    }
    return absl::FailedPreconditionError(
        absl::StrCat(Str(kPrefix), location, ": key '", Str(key), "': ", Str(message)));
  }
  // "domain.toml:27": where a handler or statement is, for errors found after loading.
  std::string Place(const toml::source_region& where) const {
    return where.begin.line > 0 ? absl::StrCat(source_, ":", where.begin.line) : source_;
  }
  absl::Status FileError(std::string_view message) const {
    return absl::FailedPreconditionError(absl::StrCat(Str(kPrefix), source_, ": ", Str(message)));
  }
  absl::Status TypeError(const toml::node& node, std::string_view key,
                         std::string_view expected) const {
    return Error(node.source(), key,
                 absl::StrCat("expected ", Str(expected), ", got ", Str(TypeName(node))));
  }
  bool WasSubstituted(const toml::node* node) const { return substituted_.count(node) > 0; }
  // DefaultedValueNote for a string node whose ${VAR|default} used a default; "" otherwise.
  std::string DefaultNote(const toml::node* node) const {
    auto it = defaulted_.find(node);
    return it == defaulted_.end() ? std::string()
                                  : DefaultedValueNote(Place(node->source()), it->second);
  }

 private:
  std::optional<std::string> GetEnv(std::string_view name) const {
    return options_.getenv ? options_.getenv(name) : ProcessGetEnv(name);
  }
  absl::Status SelectInstance(toml::table& doc, std::string_view instance, toml::table** root);
  absl::Status ApplyOverlays(toml::table& root);
  absl::Status Substitute(toml::node& node, const std::string& path);
  absl::Status ReadConfig(toml::table& root);
  absl::Status ReadDomainName(Fields& root);
  absl::Status ReadEventStore(Fields& root);
  absl::Status ReadDatabases(Fields& root);
  absl::Status ReadCaches(Fields& root);
  // `key` of `f`, when present: "event_store" or "stream" (anything else is an error).
  absl::Status ReadSubscriptionType(Fields& f, std::string_view key, SubscriptionType* out);
  absl::Status ReadServerHealth(Fields& root);
  absl::Status ReadAggregates(Fields& root);
  absl::Status ReadEvents(Fields& root);
  absl::Status ReadUpcasters(Fields& root);
  absl::Status ReadProjections(Fields& root);
  absl::Status ReadProjectionCache(Fields& f, const Entry& entry, const std::string& path,
                                   const std::string& cache, const toml::node* cache_node,
                                   const toml::node* database_node, Projection& projection);
  absl::Status ReadProjectionDatabase(Fields& f, const Entry& entry, const std::string& path,
                                      const std::string& database, const toml::node* database_node,
                                      Projection& projection);
  absl::Status ReadProjectionColumns(Fields& f, Projection& projection);
  absl::Status ReadProjectors(Fields& root);
  absl::Status ReadProjectorCategories(Fields& f, const toml::table& table, const std::string& path,
                                       Projector& projector);
  absl::Status ReadHandler(Projector& projector, const Projection& projection,
                           const std::string& event_name, const toml::key& event_key,
                           toml::node& node, const std::string& path);
  absl::Status ReadSqlHandler(Fields& f, toml::node& sql, const Projection& projection,
                              Handler& handler);
  absl::Status ReadLuaHandler(toml::node& lua, const std::string& path,
                              const Projection& projection, Handler& handler);
  // The line of the file where the text of string `node` starts (a multi-line string's
  // newline right after its opening quotes is not part of it).
  int FirstTextLine(const toml::node& node) const;
  absl::Status ReadAction(Fields& f, const Projection& projection, toml::node& node,
                          const std::string& path, Handler* handler);
  absl::Status CheckActionCombination(Fields& f, const Handler& handler);
  absl::Status ReadValue(toml::node& node, const std::string& path, Value* out);
  absl::Status ReadColumnValues(toml::node* node, const std::string& path,
                                const Projection& projection, bool numeric,
                                std::vector<std::pair<std::string, Value>>* out);
  absl::StatusOr<nlohmann::json> ToJson(const toml::node& node, const std::string& path);
  // Iterates a table whose entries must all be tables (e.g. [aggregates.X]).
  absl::Status NamedTables(Fields& parent, std::string_view key,
                           std::vector<std::pair<Entry, toml::table*>>* out);

  std::string source_;
  std::string_view text_;  // the file, during Run
  const LoadOptions& options_;
  std::string prefix_;  // key prefix of the selected instance: "domains.<instance>"
  std::set<const toml::node*> substituted_;
  std::map<const toml::node*, std::vector<std::string>> defaulted_;
  // [server] default_subscription_type and [server.subscriptions.<Name>] subscription_type.
  SubscriptionType default_subscription_type_ = SubscriptionType::kEventStore;
  std::map<std::string, SubscriptionType, std::less<>> handler_subscription_types_;
  Domain domain_;
};

absl::Status Fields::String(std::string_view key, std::string* out, bool required) {
  toml::node* node = Take(key);
  if (node == nullptr) {
    if (required) return loader_->Error(table_.source(), Path(key), "is required");
    return absl::OkStatus();
  }
  if (!node->is_string()) return loader_->TypeError(*node, Path(key), "a string");
  *out = node->as_string()->get();
  return absl::OkStatus();
}

absl::Status Fields::UriString(std::string_view key, std::string* out, std::string* note) {
  RETURN_IF_ERROR(String(key, out));
  toml::node* node = table_.get(key);
  *note = node == nullptr ? std::string() : loader_->DefaultNote(node);
  return absl::OkStatus();
}

absl::Status Fields::Int(std::string_view key, int64_t* out, bool required, int64_t min,
                         int64_t max) {
  toml::node* node = Take(key);
  if (node == nullptr) {
    if (required) return loader_->Error(table_.source(), Path(key), "is required");
    return absl::OkStatus();
  }
  int64_t value = 0;
  if (node->is_integer()) {
    value = node->as_integer()->get();
  } else if (node->is_string() && loader_->WasSubstituted(node)) {
    // "${PORT|8080}": an integer after substitution.
    const std::string& text = node->as_string()->get();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
      return loader_->Error(node->source(), Path(key),
                            absl::StrCat("expected an integer, got \"", text, "\""));
    }
  } else {
    return loader_->TypeError(*node, Path(key), "an integer");
  }
  if (value < min || value > max) {
    return loader_->Error(node->source(), Path(key),
                          absl::StrCat(value, " is out of range [", min, ", ", max, "]"));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status Fields::Bool(std::string_view key, bool* out) {
  toml::node* node = Take(key);
  if (node == nullptr) return absl::OkStatus();
  if (!node->is_boolean()) return loader_->TypeError(*node, Path(key), "a boolean");
  *out = node->as_boolean()->get();
  return absl::OkStatus();
}

absl::Status Fields::Table(std::string_view key, toml::table** out, bool required) {
  *out = nullptr;
  toml::node* node = Take(key);
  if (node == nullptr) {
    if (required) return loader_->Error(table_.source(), Path(key), "is required");
    return absl::OkStatus();
  }
  if (!node->is_table()) return loader_->TypeError(*node, Path(key), "a table");
  *out = node->as_table();
  return absl::OkStatus();
}

absl::Status Fields::Finish() {
  for (const Entry& entry : Ordered(table_)) {
    if (seen_.count(entry.key->str()) == 0) {
      return loader_->Error(entry.key->source(), Path(entry.key->str()), "unknown key");
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::SelectInstance(toml::table& doc, std::string_view instance,
                                    toml::table** root) {
  *root = &doc;
  toml::node* domains = doc.get("domains");
  if (domains == nullptr) {
    if (!instance.empty()) {
      return FileError(absl::StrCat("domain instance '", Str(instance),
                                    "' requested, but the file declares a single domain (no "
                                    "[domains.<instance>] tables)"));
    }
    return absl::OkStatus();
  }
  if (!domains->is_table()) return TypeError(*domains, "domains", "a table");
  for (const Entry& entry : Ordered(doc)) {
    if (entry.key->str() != "domains") {
      return Error(entry.key->source(), entry.key->str(),
                   "not allowed beside [domains.<instance>] tables (each instance table is "
                   "shaped like a whole file)");
    }
  }
  std::vector<std::string> names;
  for (const Entry& entry : Ordered(*domains->as_table())) {
    if (!entry.node->is_table()) {
      return TypeError(*entry.node, JoinKey("domains", entry.key->str()), "a table");
    }
    names.push_back(Str(entry.key->str()));
  }
  if (names.empty()) return Error(domains->source(), "domains", "declares no domain instance");
  if (instance.empty()) {
    return FileError(absl::StrCat("the file declares several domains (", absl::StrJoin(names, ", "),
                                  "): pick one with --domain ", source_,
                                  ":<instance>, e.g. --domain ", source_, ":", names.front()));
  }
  toml::node* selected = domains->as_table()->get(instance);
  if (selected == nullptr) {
    return FileError(absl::StrCat("domain instance '", Str(instance),
                                  "' is not declared (declared: ", absl::StrJoin(names, ", "),
                                  ")"));
  }
  *root = selected->as_table();
  prefix_ = JoinKey("domains", instance);
  return absl::OkStatus();
}

absl::Status Loader::ApplyOverlays(toml::table& root) {
  std::vector<std::string> overlays;
  for (const Entry& entry : Ordered(root)) {
    std::string_view key = entry.key->str();
    if (kSections.count(key) || kTolerated.count(key)) continue;
    std::string path = JoinKey(prefix_, key);
    if (!entry.node->is_table()) {
      return Error(entry.key->source(), path,
                   "unknown key (top-level tables other than the known sections are "
                   "PROTEAN_ENV overlays)");
    }
    for (const Entry& inner : Ordered(*entry.node->as_table())) {
      std::string_view inner_key = inner.key->str();
      if (!kSections.count(inner_key) && !kTolerated.count(inner_key)) {
        return Error(inner.key->source(), JoinKey(path, inner_key),
                     absl::StrCat("unknown key (the environment overlay [", Str(key),
                                  "] may only hold top-level domain keys)"));
      }
    }
    overlays.push_back(Str(key));
  }
  std::optional<std::string> env = GetEnv("PROTEAN_ENV");
  if (env.has_value() && std::find(overlays.begin(), overlays.end(), *env) != overlays.end()) {
    DeepMerge(root, *root.get(*env)->as_table());
  }
  for (const std::string& key : overlays) root.erase(key);
  return absl::OkStatus();
}

absl::Status Loader::Substitute(toml::node& node, const std::string& path) {
  if (toml::table* table = node.as_table()) {
    for (auto&& [k, v] : *table) RETURN_IF_ERROR(Substitute(v, JoinKey(path, k.str())));
  } else if (toml::array* array = node.as_array()) {
    for (size_t i = 0; i < array->size(); ++i) {
      RETURN_IF_ERROR(Substitute(*array->get(i), absl::StrCat(path, "[", i, "]")));
    }
  } else if (toml::value<std::string>* string = node.as_string()) {
    if (string->get().find("${") == std::string::npos) return absl::OkStatus();
    bool substituted = false;
    std::vector<std::string> defaulted;
    absl::StatusOr<std::string> value = SubstituteEnv(
        string->get(), [this](std::string_view name) { return GetEnv(name); }, &substituted,
        &defaulted);
    if (!value.ok()) return Error(node.source(), path, Msg(value.status()));
    string->get() = *std::move(value);
    if (substituted) substituted_.insert(&node);
    if (!defaulted.empty()) defaulted_[&node] = std::move(defaulted);
  }
  return absl::OkStatus();
}

absl::Status Loader::NamedTables(Fields& parent, std::string_view key,
                                 std::vector<std::pair<Entry, toml::table*>>* out) {
  toml::table* table = nullptr;
  RETURN_IF_ERROR(parent.Table(key, &table));
  if (table == nullptr) return absl::OkStatus();
  for (const Entry& entry : Ordered(*table)) {
    std::string path = JoinKey(parent.Path(key), entry.key->str());
    if (!entry.node->is_table()) return TypeError(*entry.node, path, "a table");
    out->emplace_back(entry, entry.node->as_table());
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadConfig(toml::table& root) {
  Fields fields(this, root, prefix_);
  RETURN_IF_ERROR(ReadDomainName(fields));
  RETURN_IF_ERROR(ReadEventStore(fields));
  RETURN_IF_ERROR(ReadDatabases(fields));
  RETURN_IF_ERROR(ReadCaches(fields));
  RETURN_IF_ERROR(ReadServerHealth(fields));
  for (std::string_view key : kTolerated) fields.Take(key);

  RETURN_IF_ERROR(ReadAggregates(fields));
  RETURN_IF_ERROR(ReadEvents(fields));
  RETURN_IF_ERROR(ReadUpcasters(fields));
  RETURN_IF_ERROR(ReadProjections(fields));
  RETURN_IF_ERROR(ReadProjectors(fields));
  return fields.Finish();
}

// [domain]: its name, which must yield the names built from it. Without a [domain] table
// (an application's own domain.toml: Protean takes the name from `Domain(name=...)` in code, or
// the module's name) the name comes from LoadOptions::domain_name, else PROTEAN_DOMAIN_NAME;
// a file without either is refused, naming both ways (docs/domain-toml.md "Top level").
absl::Status Loader::ReadDomainName(Fields& root) {
  toml::table* domain_table = nullptr;
  RETURN_IF_ERROR(root.Table("domain", &domain_table));
  if (domain_table == nullptr) {
    std::optional<std::string> name;
    if (!options_.domain_name.empty()) name = options_.domain_name;
    if (!name.has_value()) name = GetEnv("PROTEAN_DOMAIN_NAME");
    if (!name.has_value() || name->empty()) {
      return FileError(
          "the domain's name is unknown: the file has no [domain] table (Protean takes the name "
          "from Domain(name=...) in the application, else from the module that creates it, "
          "which a domain.toml cannot tell); add [domain] name = \"<the name given to "
          "Domain>\" or set PROTEAN_DOMAIN_NAME (protean-admin ir check: --domain-name)");
    }
    domain_.name = *name;
    domain_.normalized_name = NormalizedName(domain_.name);
    domain_.camel_case_name = CamelCaseName(domain_.name);
    if (domain_.normalized_name.empty() || domain_.camel_case_name.empty()) {
      return FileError(absl::StrCat("domain name \"", domain_.name,
                                    "\" (from outside the file) has no letters or digits to "
                                    "build names from"));
    }
    return absl::OkStatus();
  }
  Fields f(this, *domain_table, root.Path("domain"));
  RETURN_IF_ERROR(f.String("name", &domain_.name, /*required=*/true));
  domain_.normalized_name = NormalizedName(domain_.name);
  domain_.camel_case_name = CamelCaseName(domain_.name);
  if (domain_.normalized_name.empty() || domain_.camel_case_name.empty()) {
    return Error(f.Take("name")->source(), f.Path("name"),
                 absl::StrCat("domain name \"", domain_.name,
                              "\" has no letters or digits to build names from"));
  }
  return f.Finish();
}

// [event_store] (optional): Message DB only.
absl::Status Loader::ReadEventStore(Fields& root) {
  domain_.event_store.provider = "message_db";
  toml::table* event_store = nullptr;
  RETURN_IF_ERROR(root.Table("event_store", &event_store));
  if (event_store == nullptr) return absl::OkStatus();
  Fields f(this, *event_store, root.Path("event_store"));
  RETURN_IF_ERROR(f.String("provider", &domain_.event_store.provider));
  if (domain_.event_store.provider != "message_db") {
    return Error(f.Take("provider")->source(), f.Path("provider"),
                 absl::StrCat("event store provider \"", domain_.event_store.provider,
                              "\" is not supported: protean-admin reads Message DB "
                              "(provider = \"message_db\")"));
  }
  RETURN_IF_ERROR(f.UriString("database_uri", &domain_.event_store.database_uri,
                              &domain_.event_store.uri_note));
  return f.Finish();
}

// [databases.<name>]
absl::Status Loader::ReadDatabases(Fields& root) {
  std::vector<std::pair<Entry, toml::table*>> tables;
  RETURN_IF_ERROR(NamedTables(root, "databases", &tables));
  for (auto& [entry, table] : tables) {
    DatabaseConfig config;
    config.name = Str(entry.key->str());
    config.provider = "postgresql";
    Fields f(this, *table, JoinKey(root.Path("databases"), config.name));
    RETURN_IF_ERROR(f.String("provider", &config.provider));
    RETURN_IF_ERROR(f.UriString("database_uri", &config.database_uri, &config.uri_note));
    RETURN_IF_ERROR(f.String("schema", &config.schema));
    RETURN_IF_ERROR(f.Finish());
    domain_.databases.push_back(std::move(config));
  }
  return absl::OkStatus();
}

// [caches.<name>]
absl::Status Loader::ReadCaches(Fields& root) {
  std::vector<std::pair<Entry, toml::table*>> tables;
  RETURN_IF_ERROR(NamedTables(root, "caches", &tables));
  for (auto& [entry, table] : tables) {
    CacheConfig config;
    config.name = Str(entry.key->str());
    config.provider = "redis";
    Fields f(this, *table, JoinKey(root.Path("caches"), config.name));
    RETURN_IF_ERROR(f.String("provider", &config.provider));
    RETURN_IF_ERROR(f.UriString("URI", &config.uri, &config.uri_note));
    RETURN_IF_ERROR(f.Int("TTL", &config.ttl_seconds, false, 1, INT32_MAX));
    RETURN_IF_ERROR(f.Finish());
    domain_.caches.push_back(std::move(config));
  }
  return absl::OkStatus();
}

// [server.health], [server] default_subscription_type and [server.subscriptions.<Name>]
// subscription_type; the rest of [server] tunes Protean's server and is ignored.
absl::Status Loader::ReadServerHealth(Fields& root) {
  toml::table* server = nullptr;
  RETURN_IF_ERROR(root.Table("server", &server));
  if (server == nullptr) return absl::OkStatus();
  Fields f(this, *server, root.Path("server"));
  RETURN_IF_ERROR(
      ReadSubscriptionType(f, "default_subscription_type", &default_subscription_type_));
  toml::table* subscriptions = nullptr;
  RETURN_IF_ERROR(f.Table("subscriptions", &subscriptions));
  if (subscriptions != nullptr) {
    for (auto&& [name, node] : *subscriptions) {
      toml::table* handler = node.as_table();
      if (handler == nullptr || handler->get("subscription_type") == nullptr) continue;
      Fields h(this, *handler, JoinKey(f.Path("subscriptions"), name.str()));
      SubscriptionType type = default_subscription_type_;
      RETURN_IF_ERROR(ReadSubscriptionType(h, "subscription_type", &type));
      handler_subscription_types_[Str(name.str())] = type;
    }
  }
  toml::table* health = nullptr;
  RETURN_IF_ERROR(f.Table("health", &health));
  if (health == nullptr) return absl::OkStatus();
  Fields h(this, *health, f.Path("health"));
  RETURN_IF_ERROR(h.String("host", &domain_.health.host));
  if (domain_.health.host.empty()) {
    return Error(h.Take("host")->source(), h.Path("host"), "must not be empty");
  }
  int64_t port = domain_.health.port;
  RETURN_IF_ERROR(h.Int("port", &port, false, 1, 65535));
  domain_.health.port = static_cast<int>(port);
  return h.Finish();
}

absl::Status Loader::ReadSubscriptionType(Fields& f, std::string_view key, SubscriptionType* out) {
  std::string text;
  RETURN_IF_ERROR(f.String(key, &text));
  toml::node* node = f.Take(key);
  if (node == nullptr) return absl::OkStatus();
  if (text == "event_store") {
    *out = SubscriptionType::kEventStore;
  } else if (text == "stream") {
    *out = SubscriptionType::kStream;
  } else {
    return Error(node->source(), f.Path(key),
                 absl::StrCat("unknown subscription type \"", text,
                              "\": expected \"event_store\" or \"stream\""));
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadAggregates(Fields& root) {
  std::vector<std::pair<Entry, toml::table*>> tables;
  RETURN_IF_ERROR(NamedTables(root, "aggregates", &tables));
  for (auto& [entry, table] : tables) {
    Aggregate aggregate;
    aggregate.name = Str(entry.key->str());
    std::string path = JoinKey(root.Path("aggregates"), aggregate.name);
    if (!IsName(aggregate.name)) {
      return Error(entry.key->source(), path,
                   "is not a valid aggregate name (letters, digits and '_', not starting "
                   "with a digit)");
    }
    Fields f(this, *table, path);
    std::string category = Underscore(aggregate.name);
    RETURN_IF_ERROR(f.String("stream_category", &category));
    if (category.empty() || category.find('-') != std::string::npos) {
      return Error(f.Take("stream_category")->source(), f.Path("stream_category"),
                   "must be non-empty and must not contain '-' (Message DB splits stream "
                   "names at the first '-')");
    }
    RETURN_IF_ERROR(f.Finish());
    aggregate.stream_category = StreamCategory(domain_.normalized_name, category);
    for (const Aggregate& other : domain_.aggregates) {
      if (other.stream_category == aggregate.stream_category) {
        return Error(entry.key->source(), path,
                     absl::StrCat("duplicate stream category \"", aggregate.stream_category,
                                  "\" (also aggregate ", other.name, ")"));
      }
    }
    domain_.aggregates.push_back(std::move(aggregate));
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadEvents(Fields& root) {
  std::vector<std::pair<Entry, toml::table*>> tables;
  RETURN_IF_ERROR(NamedTables(root, "events", &tables));
  for (auto& [entry, table] : tables) {
    Event event;
    event.name = Str(entry.key->str());
    std::string path = JoinKey(root.Path("events"), event.name);
    if (!IsName(event.name)) {
      return Error(entry.key->source(), path,
                   "is not a valid event name (letters, digits and '_', not starting with a "
                   "digit)");
    }
    Fields f(this, *table, path);
    RETURN_IF_ERROR(f.String("aggregate", &event.aggregate, /*required=*/true));
    if (domain_.FindAggregate(event.aggregate) == nullptr) {
      return Error(f.Take("aggregate")->source(), f.Path("aggregate"),
                   absl::StrCat("unknown aggregate '", event.aggregate, "'"));
    }
    int64_t version = 1;
    RETURN_IF_ERROR(f.Int("version", &version, false, 1, 1000000));
    event.version = static_cast<int>(version);
    RETURN_IF_ERROR(f.Finish());
    event.type_string = TypeString(domain_.camel_case_name, event.name, event.version);
    domain_.events.push_back(std::move(event));
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadUpcasters(Fields& root) {
  toml::node* node = root.Take("upcasters");
  if (node == nullptr) return absl::OkStatus();
  std::string list_path = root.Path("upcasters");
  if (!node->is_array()) return TypeError(*node, list_path, "an array of tables ([[upcasters]])");
  toml::array& array = *node->as_array();
  for (size_t i = 0; i < array.size(); ++i) {
    std::string path = absl::StrCat(list_path, "[", i, "]");
    toml::node& item = *array.get(i);
    if (!item.is_table()) return TypeError(item, path, "a table");
    Fields f(this, *item.as_table(), path);
    Upcaster upcaster;
    RETURN_IF_ERROR(f.String("event", &upcaster.event, /*required=*/true));
    if (domain_.FindEvent(upcaster.event) == nullptr) {
      return Error(f.Take("event")->source(), f.Path("event"),
                   absl::StrCat("unknown event '", upcaster.event, "'"));
    }
    int64_t from = 0, to = 0;
    RETURN_IF_ERROR(f.Int("from_version", &from, true, 1, 1000000));
    RETURN_IF_ERROR(f.Int("to_version", &to, true, 1, 1000000));
    upcaster.from_version = static_cast<int>(from);
    upcaster.to_version = static_cast<int>(to);
    toml::table* rename = nullptr;
    RETURN_IF_ERROR(f.Table("rename", &rename));
    if (rename != nullptr) {
      for (const Entry& entry : Ordered(*rename)) {
        std::string key = JoinKey(f.Path("rename"), entry.key->str());
        if (!entry.node->is_string()) return TypeError(*entry.node, key, "a string");
        upcaster.rename.emplace_back(Str(entry.key->str()), entry.node->as_string()->get());
      }
    }
    if (toml::node* remove = f.Take("remove")) {
      if (!remove->is_array()) return TypeError(*remove, f.Path("remove"), "an array of strings");
      toml::array& fields = *remove->as_array();
      for (size_t k = 0; k < fields.size(); ++k) {
        toml::node& field = *fields.get(k);
        if (!field.is_string()) {
          return TypeError(field, absl::StrCat(f.Path("remove"), "[", k, "]"), "a string");
        }
        upcaster.remove.push_back(field.as_string()->get());
      }
    }
    for (auto [key, target] :
         {std::pair<std::string_view, nlohmann::json*>{"defaults", &upcaster.defaults},
          std::pair<std::string_view, nlohmann::json*>{"set", &upcaster.set}}) {
      toml::table* table = nullptr;
      RETURN_IF_ERROR(f.Table(key, &table));
      if (table == nullptr) continue;
      absl::StatusOr<nlohmann::json> json = ToJson(*table, f.Path(key));
      if (!json.ok()) return json.status();
      *target = *std::move(json);
    }
    RETURN_IF_ERROR(f.Finish());
    domain_.upcasters.push_back(std::move(upcaster));
  }
  absl::Status valid = ValidateUpcasters(domain_);
  if (!valid.ok()) return Error(node->source(), list_path, Msg(valid));
  return absl::OkStatus();
}

absl::Status Loader::ReadProjections(Fields& root) {
  std::vector<std::pair<Entry, toml::table*>> tables;
  RETURN_IF_ERROR(NamedTables(root, "projections", &tables));
  for (auto& [entry, table] : tables) {
    Projection projection;
    projection.name = Str(entry.key->str());
    std::string path = JoinKey(root.Path("projections"), projection.name);
    if (!IsName(projection.name)) {
      return Error(entry.key->source(), path,
                   "is not a valid projection name (letters, digits and '_', not starting "
                   "with a digit)");
    }
    Fields f(this, *table, path);
    RETURN_IF_ERROR(f.String("key", &projection.key, /*required=*/true));
    if (projection.key.empty()) {
      return Error(f.Take("key")->source(), f.Path("key"), "must not be empty");
    }
    projection.table = Underscore(projection.name);
    RETURN_IF_ERROR(f.String("table", &projection.table));
    if (projection.table.empty()) {
      return Error(f.Take("table")->source(), f.Path("table"), "must not be empty");
    }
    RETURN_IF_ERROR(f.String("schema", &projection.schema));
    std::string database;
    std::string cache;
    RETURN_IF_ERROR(f.String("database", &database));
    RETURN_IF_ERROR(f.String("cache", &cache));
    toml::node* database_node = f.Take("database");
    toml::node* cache_node = f.Take("cache");
    if (database_node != nullptr && cache_node != nullptr) {
      return Error(cache_node->source(), f.Path("cache"),
                   "a projection is either database-backed or cache-backed: give 'database' "
                   "or 'cache', not both");
    }
    projection.cache_prefix = Underscore(projection.name);
    if (cache_node != nullptr) {
      RETURN_IF_ERROR(
          ReadProjectionCache(f, entry, path, cache, cache_node, database_node, projection));
    } else {
      RETURN_IF_ERROR(ReadProjectionDatabase(f, entry, path, database, database_node, projection));
    }
    RETURN_IF_ERROR(ReadProjectionColumns(f, projection));
    RETURN_IF_ERROR(f.Finish());
    domain_.projections.push_back(std::move(projection));
  }
  return absl::OkStatus();
}

// A cache-backed projection: `cache` names a redis cache of [caches], and its key prefix is
// unique within that cache.
absl::Status Loader::ReadProjectionCache(Fields& f, const Entry& entry, const std::string& path,
                                         const std::string& cache, const toml::node* cache_node,
                                         const toml::node* database_node, Projection& projection) {
  const CacheConfig* config = domain_.FindCache(cache);
  if (config == nullptr) {
    return Error(cache_node->source(), f.Path("cache"),
                 absl::StrCat("cache '", cache, "' is not declared in [caches]"));
  }
  if (config->provider != "redis") {
    return Error(cache_node->source(), f.Path("cache"),
                 absl::StrCat("cache '", cache, "' has provider \"", config->provider,
                              "\"; cache-backed projections need provider = \"redis\""));
  }
  if (config->uri.empty()) {
    return Error(cache_node->source(), f.Path("cache"),
                 absl::StrCat("cache '", cache, "' has no URI"));
  }
  if (database_node == nullptr && f.Take("schema") != nullptr) {
    return Error(f.Take("schema")->source(), f.Path("schema"),
                 "a cache-backed projection has no schema");
  }
  projection.cache = cache;
  for (const Projection& other : domain_.projections) {
    if (other.cache == projection.cache && other.cache_prefix == projection.cache_prefix) {
      return Error(entry.key->source(), path,
                   absl::StrCat("duplicate cache key prefix \"", projection.cache_prefix,
                                "\" (also projection ", other.name, ")"));
    }
  }
  return absl::OkStatus();
}

// A database-backed projection: its database (default "default") is a postgresql one of
// [databases], and its table is unique within that database and schema.
absl::Status Loader::ReadProjectionDatabase(Fields& f, const Entry& entry, const std::string& path,
                                            const std::string& database,
                                            const toml::node* database_node,
                                            Projection& projection) {
  projection.database = database_node != nullptr ? database : "default";
  const DatabaseConfig* config = domain_.FindDatabase(projection.database);
  const toml::source_region& where =
      database_node != nullptr ? database_node->source() : entry.key->source();
  std::string where_key = database_node != nullptr ? f.Path("database") : path;
  if (config == nullptr) {
    return Error(
        where, where_key,
        absl::StrCat("database '", projection.database, "' is not declared in [databases]"));
  }
  if (config->provider != "postgresql") {
    return Error(
        where, where_key,
        absl::StrCat("database '", projection.database, "' has provider \"", config->provider,
                     "\"; database-backed projections need provider = "
                     "\"postgresql\""));
  }
  if (config->database_uri.empty()) {
    return Error(where, where_key,
                 absl::StrCat("database '", projection.database, "' has no database_uri"));
  }
  std::string schema = projection.schema.empty() ? config->schema : projection.schema;
  for (const Projection& other : domain_.projections) {
    if (other.cache_backed() || other.database != projection.database) continue;
    std::string other_schema = other.schema.empty() ? config->schema : other.schema;
    if (other_schema == schema && other.table == projection.table) {
      return Error(entry.key->source(), path,
                   absl::StrCat("duplicate table \"", projection.table, "\" (also projection ",
                                other.name, ")"));
    }
  }
  return absl::OkStatus();
}

// The projection's declared columns (optional): SQL types checked, the key column declared.
absl::Status Loader::ReadProjectionColumns(Fields& f, Projection& projection) {
  toml::table* columns = nullptr;
  RETURN_IF_ERROR(f.Table("columns", &columns));
  if (columns != nullptr) {
    for (const Entry& column : Ordered(*columns)) {
      std::string key = JoinKey(f.Path("columns"), column.key->str());
      if (!column.node->is_string()) return TypeError(*column.node, key, "a string (SQL type)");
      if (column.key->str().empty() || column.node->as_string()->get().empty()) {
        return Error(column.node->source(), key, "column name and SQL type must not be empty");
      }
      // CREATE TABLE splices the type as it is.
      if (absl::Status valid = CheckSqlType(column.node->as_string()->get()); !valid.ok()) {
        return Error(column.node->source(), key, Msg(valid));
      }
      projection.columns.emplace_back(Str(column.key->str()), column.node->as_string()->get());
    }
    bool has_key = false;
    for (const auto& [name, type] : projection.columns) has_key |= name == projection.key;
    if (!has_key) {
      return Error(columns->source(), f.Path("columns"),
                   absl::StrCat("the key column '", projection.key, "' is not declared"));
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadProjectors(Fields& root) {
  std::vector<std::pair<Entry, toml::table*>> tables;
  RETURN_IF_ERROR(NamedTables(root, "projectors", &tables));
  for (auto& [entry, table] : tables) {
    Projector projector;
    projector.name = Str(entry.key->str());
    std::string path = JoinKey(root.Path("projectors"), projector.name);
    if (!IsName(projector.name)) {
      return Error(entry.key->source(), path,
                   "is not a valid projector name (letters, digits and '_', not starting "
                   "with a digit)");
    }
    Fields f(this, *table, path);
    RETURN_IF_ERROR(f.String("projector_for", &projector.projector_for, /*required=*/true));
    const Projection* projection = domain_.FindProjection(projector.projector_for);
    if (projection == nullptr) {
      return Error(f.Take("projector_for")->source(), f.Path("projector_for"),
                   absl::StrCat("unknown projection '", projector.projector_for, "'"));
    }
    RETURN_IF_ERROR(ReadProjectorCategories(f, *table, path, projector));
    std::string subscriber;
    RETURN_IF_ERROR(f.String("subscriber", &subscriber));
    if (toml::node* node = f.Take("subscriber")) {
      if (subscriber.empty())
        return Error(node->source(), f.Path("subscriber"), "must not be empty");
      projector.subscriber = subscriber;
    }
    auto handler_type = handler_subscription_types_.find(projector.name);
    projector.subscription_type = handler_type != handler_subscription_types_.end()
                                      ? handler_type->second
                                      : default_subscription_type_;
    RETURN_IF_ERROR(ReadSubscriptionType(f, "subscription_type", &projector.subscription_type));
    toml::table* on = nullptr;
    RETURN_IF_ERROR(f.Table("on", &on));
    if (on != nullptr) {
      for (const Entry& handler : Ordered(*on)) {
        RETURN_IF_ERROR(ReadHandler(projector, *projection, Str(handler.key->str()), *handler.key,
                                    *handler.node, JoinKey(f.Path("on"), handler.key->str())));
      }
    }
    RETURN_IF_ERROR(f.Finish());
    domain_.projectors.push_back(std::move(projector));
  }
  return absl::OkStatus();
}

// The categories a projector reads: `aggregates` (their stream categories) or
// `stream_categories`, exactly one of them, not empty, no category twice.
absl::Status Loader::ReadProjectorCategories(Fields& f, const toml::table& table,
                                             const std::string& path, Projector& projector) {
  toml::node* aggregates = f.Take("aggregates");
  toml::node* categories = f.Take("stream_categories");
  if (aggregates != nullptr && categories != nullptr) {
    return Error(categories->source(), f.Path("stream_categories"),
                 "give either 'aggregates' or 'stream_categories', not both");
  }
  if (aggregates == nullptr && categories == nullptr) {
    return Error(table.source(), path, "one of 'aggregates' or 'stream_categories' is required");
  }
  toml::node* list = aggregates != nullptr ? aggregates : categories;
  std::string list_key = f.Path(aggregates != nullptr ? "aggregates" : "stream_categories");
  if (!list->is_array()) return TypeError(*list, list_key, "an array of strings");
  toml::array& array = *list->as_array();
  if (array.empty()) return Error(list->source(), list_key, "must not be empty");
  for (size_t i = 0; i < array.size(); ++i) {
    toml::node& item = *array.get(i);
    std::string item_key = absl::StrCat(list_key, "[", i, "]");
    if (!item.is_string()) return TypeError(item, item_key, "a string");
    const std::string& text = item.as_string()->get();
    std::string category;
    if (aggregates != nullptr) {
      const Aggregate* aggregate = domain_.FindAggregate(text);
      if (aggregate == nullptr) {
        return Error(item.source(), item_key, absl::StrCat("unknown aggregate '", text, "'"));
      }
      category = aggregate->stream_category;
    } else {
      if (text.empty() || text.find('-') != std::string::npos) {
        return Error(item.source(), item_key,
                     "a stream category must be non-empty and must not contain '-'");
      }
      category = text;
    }
    if (std::find(projector.categories.begin(), projector.categories.end(), category) !=
        projector.categories.end()) {
      return Error(item.source(), item_key,
                   absl::StrCat("duplicate stream category \"", category, "\""));
    }
    projector.categories.push_back(std::move(category));
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadHandler(Projector& projector, const Projection& projection,
                                 const std::string& event_name, const toml::key& event_key,
                                 toml::node& node, const std::string& path) {
  const Event* event = domain_.FindEvent(event_name);
  if (event == nullptr) {
    return Error(event_key.source(), path, absl::StrCat("unknown event '", event_name, "'"));
  }
  const Aggregate* aggregate = domain_.FindAggregate(event->aggregate);
  if (std::find(projector.categories.begin(), projector.categories.end(),
                aggregate->stream_category) == projector.categories.end()) {
    return Error(
        event_key.source(), path,
        absl::StrCat("event '", event_name, "' belongs to aggregate ", aggregate->name,
                     " (stream category \"", aggregate->stream_category, "\"), which projector ",
                     projector.name, " does not read (categories: ",
                     absl::StrJoin(projector.categories, ", "), ")"));
  }
  if (!node.is_table()) return TypeError(node, path, "a table");
  Fields f(this, *node.as_table(), path);
  Handler handler;
  handler.event = event_name;
  handler.where = Place(event_key.source());
  toml::node* sql = f.Take("sql");
  toml::node* lua = f.Take("lua");
  bool has_action = false;
  for (std::string_view key : {"key", "set", "insert", "update", "increment", "delete"}) {
    has_action |= f.table().get(key) != nullptr;
  }
  if (lua != nullptr) {
    if (sql != nullptr || has_action) {
      return Error(lua->source(), f.Path("lua"),
                   absl::StrCat("a handler is in Lua form or in ",
                                sql != nullptr ? "SQL form, not both (remove sql or lua)"
                                               : "action form, not both (remove key/set/insert/"
                                                 "update/increment/delete or lua)"));
    }
    RETURN_IF_ERROR(ReadLuaHandler(*lua, f.Path("lua"), projection, handler));
  } else if (sql != nullptr) {
    if (has_action) {
      return Error(sql->source(), f.Path("sql"),
                   "a handler is in SQL form or in action form, not both (remove key/set/"
                   "insert/update/increment/delete or sql)");
    }
    RETURN_IF_ERROR(ReadSqlHandler(f, *sql, projection, handler));
  } else {
    if (!has_action) {
      return Error(node.source(), path,
                   "a handler needs 'sql' (SQL form) or an action (set, insert, update, "
                   "increment, delete) or 'lua' (Lua form)");
    }
    RETURN_IF_ERROR(ReadAction(f, projection, node, path, &handler));
  }
  RETURN_IF_ERROR(f.Finish());
  projector.handlers.push_back(std::move(handler));
  return absl::OkStatus();
}

// The SQL form: `sql` is one statement or an array of them, each rewritten (RewriteSql) and
// not empty. Database-backed projections only.
absl::Status Loader::ReadSqlHandler(Fields& f, toml::node& sql, const Projection& projection,
                                    Handler& handler) {
  if (projection.cache_backed()) {
    return Error(sql.source(), f.Path("sql"),
                 absl::StrCat("projection ", projection.name,
                              " is cache-backed: only the action form is allowed"));
  }
  handler.form = Handler::Form::kSql;
  std::vector<std::pair<toml::node*, std::string>> statements;
  if (sql.is_string()) {
    statements.emplace_back(&sql, f.Path("sql"));
  } else if (sql.is_array()) {
    toml::array& array = *sql.as_array();
    if (array.empty()) return Error(sql.source(), f.Path("sql"), "must not be empty");
    for (size_t i = 0; i < array.size(); ++i) {
      statements.emplace_back(array.get(i), absl::StrCat(f.Path("sql"), "[", i, "]"));
    }
  } else {
    return TypeError(sql, f.Path("sql"), "a string or an array of strings");
  }
  for (auto& [statement_node, key] : statements) {
    if (!statement_node->is_string()) return TypeError(*statement_node, key, "a string");
    absl::StatusOr<SqlStatement> statement = RewriteSql(statement_node->as_string()->get());
    if (!statement.ok()) return Error(statement_node->source(), key, Msg(statement.status()));
    if (statement->text.find_first_not_of(" \t\r\n;") == std::string::npos) {
      return Error(statement_node->source(), key, "the SQL statement is empty");
    }
    statement->where = Place(statement_node->source());
    handler.sql.push_back(*std::move(statement));
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadLuaHandler(toml::node& lua, const std::string& path,
                                    const Projection& projection, Handler& handler) {
  if (!lua.is_string()) return TypeError(lua, path, "a string (the handler's Lua source)");
  const std::string& source = lua.as_string()->get();
  if (source.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error(lua.source(), path, "the Lua handler is empty");
  }
  if (projection.cache_backed() && projection.columns.empty()) {
    // Without declared columns a cache-backed projection's columns are inferred from what
    // action-form handlers name; a Lua handler's writes name none.
    return Error(lua.source(), path,
                 absl::StrCat("projection ", projection.name,
                              " is cache-backed and has Lua handlers: declare its columns "
                              "(columns = { col = \"SQL type\", ... })"));
  }
  handler.form = Handler::Form::kLua;
  handler.lua = source;
  handler.lua_line = FirstTextLine(lua);
  return absl::OkStatus();
}

int Loader::FirstTextLine(const toml::node& node) const {
  const toml::source_region& where = node.source();
  const int line = static_cast<int>(where.begin.line);
  if (line <= 0 || where.end.line <= where.begin.line) return std::max(line, 1);
  // The text of the line the string starts on.
  std::string_view rest = text_;
  for (int l = 1; l < line && !rest.empty(); ++l) {
    const size_t newline = rest.find('\n');
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  }
  std::string_view first = rest.substr(0, rest.find('\n'));
  while (!first.empty() && (first.back() == ' ' || first.back() == '\t' || first.back() == '\r')) {
    first.remove_suffix(1);
  }
  const bool opens_alone = first.ends_with("\"\"\"") || first.ends_with("'''");
  return opens_alone ? line + 1 : line;
}

// The action form's keys (docs/domain-toml.md "Action form").
absl::Status Loader::ReadAction(Fields& f, const Projection& projection, toml::node& node,
                                const std::string& path, Handler* handler) {
  handler->form = Handler::Form::kAction;
  if (toml::node* key = f.Take("key")) {
    RETURN_IF_ERROR(ReadValue(*key, f.Path("key"), &handler->key));
    if (!handler->key.parameter.has_value() &&
        !(handler->key.literal.is_string() || handler->key.literal.is_number_integer())) {
      return Error(key->source(), f.Path("key"), "must be a parameter, a string or an integer");
    }
    if (handler->key.negate) {
      return Error(key->source(), f.Path("key"), "a key cannot be a negated parameter");
    }
  } else {
    Parameter parameter;
    parameter.path = {projection.key};
    parameter.text = absl::StrCat(":", projection.key);
    handler->key.parameter = std::move(parameter);
  }
  RETURN_IF_ERROR(ReadColumnValues(f.Take("set"), f.Path("set"), projection, false, &handler->set));
  RETURN_IF_ERROR(
      ReadColumnValues(f.Take("insert"), f.Path("insert"), projection, false, &handler->insert));
  RETURN_IF_ERROR(
      ReadColumnValues(f.Take("update"), f.Path("update"), projection, false, &handler->update));
  RETURN_IF_ERROR(ReadColumnValues(f.Take("increment"), f.Path("increment"), projection, true,
                                   &handler->increment));
  RETURN_IF_ERROR(f.Bool("delete", &handler->remove));
  const bool writes = !handler->set.empty() || !handler->insert.empty() ||
                      !handler->update.empty() || !handler->increment.empty();
  if (!handler->remove && !writes) {
    return Error(node.source(), path,
                 "the handler does nothing: give set, insert, update, increment or delete = true");
  }
  return CheckActionCombination(f, *handler);
}

// Refuses combinations whose outcome would depend on an order nobody wrote down: delete with
// anything else, and one column in both set and update (set assigns it whether or not the
// row exists, so update would silently override it for existing rows only).
absl::Status Loader::CheckActionCombination(Fields& f, const Handler& handler) {
  if (handler.remove && (!handler.set.empty() || !handler.insert.empty() ||
                         !handler.update.empty() || !handler.increment.empty())) {
    return Error(f.Take("delete")->source(), f.Path("delete"),
                 "delete = true cannot be combined with set, insert, update or increment");
  }
  for (const auto& [column, value] : handler.update) {
    for (const auto& [set_column, set_value] : handler.set) {
      if (column != set_column) continue;
      const toml::node* at = f.table().get("update")->as_table()->get(column);
      return Error(at->source(), JoinKey(f.Path("update"), column),
                   absl::StrCat("column '", column,
                                "' is in both set and update: set already assigns it when the "
                                "row exists (and creates the row); give it in one of them (insert "
                                "+ update assign different values to new and existing rows)"));
    }
  }
  return absl::OkStatus();
}

// A value: "-:param" (negated), ":param", `{ null = true }` (NULL) or a JSON literal. TOML has
// no null; the one-key table is the spelling because no string can then mean NULL.
absl::Status Loader::ReadValue(toml::node& node, const std::string& path, Value* out) {
  if (toml::value<std::string>* string = node.as_string()) {
    std::string_view text = string->get();
    const bool negate = text.size() > 2 && text[0] == '-' && text[1] == ':';
    if (negate) text.remove_prefix(1);
    absl::StatusOr<std::optional<Parameter>> parameter = ParseParameterReference(text);
    if (!parameter.ok()) return Error(node.source(), path, Msg(parameter.status()));
    if (parameter->has_value()) {
      out->parameter = **std::move(parameter);
      out->negate = negate;
      return absl::OkStatus();
    }
  }
  if (toml::table* table = node.as_table(); table != nullptr && table->size() == 1) {
    if (toml::node* flag = table->get("null")) {
      if (!flag->is_boolean() || !flag->as_boolean()->get()) {
        return Error(flag->source(), JoinKey(path, "null"),
                     "an explicit NULL is written { null = true }");
      }
      out->literal = nullptr;
      return absl::OkStatus();
    }
  }
  absl::StatusOr<nlohmann::json> literal = ToJson(node, path);
  if (!literal.ok()) return literal.status();
  out->literal = *std::move(literal);
  return absl::OkStatus();
}

absl::Status Loader::ReadColumnValues(toml::node* node, const std::string& path,
                                      const Projection& projection, bool numeric,
                                      std::vector<std::pair<std::string, Value>>* out) {
  if (node == nullptr) return absl::OkStatus();
  if (!node->is_table()) return TypeError(*node, path, "a table of column = value");
  for (const Entry& entry : Ordered(*node->as_table())) {
    std::string column = Str(entry.key->str());
    std::string key = JoinKey(path, column);
    if (column.empty()) return Error(entry.key->source(), key, "empty column name");
    if (!projection.columns.empty()) {
      bool declared = false;
      for (const auto& [name, type] : projection.columns) declared |= name == column;
      if (!declared) {
        return Error(entry.key->source(), key,
                     absl::StrCat("column '", column, "' is not declared in projection ",
                                  projection.name, "'s columns"));
      }
    }
    Value value;
    RETURN_IF_ERROR(ReadValue(*entry.node, key, &value));
    if (numeric && !value.parameter.has_value() && !value.literal.is_number()) {
      return Error(entry.node->source(), key, "an increment must be a number or a parameter");
    }
    out->emplace_back(std::move(column), std::move(value));
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> Loader::ToJson(const toml::node& node, const std::string& path) {
  switch (node.type()) {
    case toml::node_type::table: {
      nlohmann::json object = nlohmann::json::object();
      for (auto&& [k, v] : *node.as_table()) {
        absl::StatusOr<nlohmann::json> value = ToJson(v, JoinKey(path, k.str()));
        if (!value.ok()) return value.status();
        object[Str(k.str())] = *std::move(value);
      }
      return object;
    }
    case toml::node_type::array: {
      nlohmann::json array = nlohmann::json::array();
      const toml::array& items = *node.as_array();
      for (size_t i = 0; i < items.size(); ++i) {
        absl::StatusOr<nlohmann::json> value =
            ToJson(*items.get(i), absl::StrCat(path, "[", i, "]"));
        if (!value.ok()) return value.status();
        array.push_back(*std::move(value));
      }
      return array;
    }
    case toml::node_type::string:
      return nlohmann::json(node.as_string()->get());
    case toml::node_type::integer:
      return nlohmann::json(node.as_integer()->get());
    case toml::node_type::floating_point: {
      double value = node.as_floating_point()->get();
      if (value != value || value - value != 0) {  // NaN or infinity
        return Error(node.source(), path, "nan and inf are not valid JSON values");
      }
      return nlohmann::json(value);
    }
    case toml::node_type::boolean:
      return nlohmann::json(node.as_boolean()->get());
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: {
      std::ostringstream text;
      if (const auto* date = node.as_date()) text << date->get();
      if (const auto* time = node.as_time()) text << time->get();
      if (const auto* date_time = node.as_date_time()) text << date_time->get();
      return nlohmann::json(text.str());
    }
    default:
      return Error(node.source(), path, "unsupported value");
  }
}

absl::StatusOr<Domain> Loader::Run(std::string_view text, std::string_view instance) {
  toml::table doc;
  text_ = text;
  try {
    doc = toml::parse(text, source_);
  } catch (const toml::parse_error& error) {
    const toml::source_region& where = error.source();
    return absl::FailedPreconditionError(
        absl::StrCat(Str(kPrefix), source_, ":", where.begin.line, ":", where.begin.column,
                     ": invalid TOML: ", Str(error.description())));
  } catch (const std::exception& error) {
    return FileError(absl::StrCat("invalid TOML: ", error.what()));
  }
  toml::table* root = nullptr;
  RETURN_IF_ERROR(SelectInstance(doc, instance, &root));
  RETURN_IF_ERROR(ApplyOverlays(*root));
  RETURN_IF_ERROR(Substitute(*root, prefix_));
  domain_.source_file = source_;
  RETURN_IF_ERROR(ReadConfig(*root));
  domain_.BuildTypeIndex();
  return std::move(domain_);
}

}  // namespace

absl::StatusOr<Domain> ParseDomain(std::string_view toml_text, std::string_view source_name,
                                   std::string_view instance, const LoadOptions& options) {
  Loader loader(source_name, options);
  return loader.Run(toml_text, instance);
}

absl::StatusOr<Domain> LoadDomain(std::string_view spec, const LoadOptions& options) {
  absl::StatusOr<ResolvedDomainFile> file = ResolveDomainFile(spec, options.domain_root);
  if (!file.ok()) {
    std::string message = absl::StrCat(Str(kPrefix), Msg(file.status()));
    if (absl::IsNotFound(file.status())) return absl::NotFoundError(message);
    return absl::FailedPreconditionError(message);
  }
  std::ifstream in(file->file, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat(Str(kPrefix), "cannot read ", file->display_name));
  }
  std::ostringstream content;
  content << in.rdbuf();
  return ParseDomain(content.str(), file->display_name, file->instance, options);
}

}  // namespace protean_admin::domain
