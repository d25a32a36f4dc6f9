// Every validation rule of the loader, with the exact location and key in the message.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "absl/strings/str_replace.h"
#include "domain/loader.h"
#include "tests/harness/load_env.h"

namespace protean_admin::domain {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

LoadOptions Env(std::map<std::string, std::string> vars = {}) {
  return testing::EnvOptions(std::move(vars));
}

// A small valid domain; tests append to it or replace parts of it.
const std::string kHead = R"toml([domain]
name = "Test"
[databases.default]
database_uri = "postgresql://db/app"
[aggregates.User]
[aggregates.Transaction]
[events.Registered]
aggregate = "User"
[events.Transacted]
aggregate = "Transaction"
)toml";  // 10 lines

const std::string kProjection = R"toml([projections.Balances]
key = "user_id"
[projectors.P]
projector_for = "Balances"
aggregates = ["User"]
)toml";  // lines 11..15 after kHead

absl::StatusOr<Domain> Parse(const std::string& text, std::map<std::string, std::string> env = {},
                             std::string_view instance = "") {
  return ParseDomain(text, "t.toml", instance, Env(std::move(env)));
}

// The error message of a text that must fail.
std::string Error(const std::string& text, std::map<std::string, std::string> env = {},
                  std::string_view instance = "") {
  absl::StatusOr<Domain> d = Parse(text, std::move(env), instance);
  if (d.ok()) return "<loaded without error>";
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  return std::string(d.status().message());
}

TEST(LoaderValidationTest, BaseDomainLoads) {
  auto d = Parse(kHead + kProjection);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->event_store.provider, "message_db");  // defaults
  EXPECT_EQ(d->event_store.database_uri, "");
  EXPECT_EQ(d->databases[0].provider, "postgresql");
  EXPECT_EQ(d->databases[0].schema, "");
  EXPECT_EQ(d->health.host, "127.0.0.1");
  EXPECT_EQ(d->health.port, 8080);
  EXPECT_TRUE(d->projectors[0].handlers.empty());
}

TEST(LoaderValidationTest, TomlSyntaxErrorsNameFileLineAndColumn) {
  EXPECT_THAT(Error("[domain]\nname = \"x\nfoo"),
              StartsWith("Error loading Protean domain: t.toml:2:"));
  EXPECT_THAT(Error("[domain]\nname = \"x\nfoo"), HasSubstr("invalid TOML"));
  // Duplicate names are TOML errors.
  std::string duplicate = kHead + "[events.Registered]\naggregate = \"User\"\n";
  EXPECT_THAT(Error(duplicate), StartsWith("Error loading Protean domain: t.toml:11:"));
  EXPECT_THAT(Error(duplicate), HasSubstr("invalid TOML"));
}

TEST(LoaderValidationTest, UnknownKeysAnywhere) {
  EXPECT_EQ(Error("foo = 1\n" + kHead),
            "Error loading Protean domain: t.toml:1:1: key 'foo': unknown key (top-level tables "
            "other than the known sections are PROTEAN_ENV overlays)");
  EXPECT_EQ(Error("[domain]\nname = \"T\"\nnmae = \"x\"\n"),
            "Error loading Protean domain: t.toml:3:1: key 'domain.nmae': unknown key");
  EXPECT_EQ(Error(kHead + "versoin = 2\n"),
            "Error loading Protean domain: t.toml:11:1: key 'events.Transacted.versoin': "
            "unknown key");
  EXPECT_EQ(Error(kHead + "[aggregates.Order]\ncategory = \"o\"\n"),
            "Error loading Protean domain: t.toml:12:1: key 'aggregates.Order.category': "
            "unknown key");
  EXPECT_THAT(Error(kHead + "[databases.default.x]\n"),
              HasSubstr("t.toml:11:20: key 'databases.default.x': unknown key"));
  EXPECT_THAT(Error(kHead + "[caches.c]\nURI = \"redis://x\"\nttl = 3\n"),
              HasSubstr("t.toml:13:1: key 'caches.c.ttl': unknown key"));
  EXPECT_THAT(Error(kHead + "[server.health]\nhots = \"x\"\n"),
              HasSubstr("t.toml:12:1: key 'server.health.hots': unknown key"));
  EXPECT_THAT(Error(kHead + "[event_store]\ndatabase_url = \"x\"\n"),
              HasSubstr("t.toml:12:1: key 'event_store.database_url': unknown key"));
  EXPECT_THAT(Error(kHead + "[projections.Balances]\nkey = \"k\"\ntabel = \"b\"\n"),
              HasSubstr("t.toml:13:1: key 'projections.Balances.tabel': unknown key"));
  EXPECT_THAT(Error(kHead + kProjection + "subscribr = \"x\"\n"),
              HasSubstr("t.toml:16:1: key 'projectors.P.subscribr': unknown key"));
  EXPECT_THAT(Error(kHead + kProjection +
                    "[projectors.P.on.Registered]\nsett = {a = 1}\n"
                    "set = {a = 1}\n"),
              HasSubstr("t.toml:17:1: key 'projectors.P.on.Registered.sett': unknown key"));
  EXPECT_THAT(Error(kHead + "[[upcasters]]\nevent = \"Transacted\"\nfrom_version = 1\n"
                            "to_version = 2\nrenam = {}\n"),
              HasSubstr("t.toml:15:1: key 'upcasters[0].renam': unknown key"));
}

TEST(LoaderValidationTest, ToleratedProteanKeysAreIgnored) {
  std::string text =
      "debug = true\ntesting = false\nsecret_key = \"s\"\nidentity_strategy = \"uuid\"\n"
      "identity_type = \"string\"\nevent_processing = \"async\"\ncommand_processing = \"sync\"\n"
      "message_processing = \"sync\"\nsnapshot_threshold = 10\nenable_outbox = false\n" +
      kHead +
      "[brokers.default]\nprovider = \"inline\"\n[custom]\nfoo = \"bar\"\n"
      "[outbox]\nbroker = \"default\"\n[idempotency]\nttl = 5\n"
      "[server]\ndefault_subscription_type = \"stream\"\nmessages_per_tick = 100\n"
      "[server.stream_subscription]\nmax_retries = 3\n";
  auto d = Parse(text);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->health.port, 8080);
}

TEST(LoaderValidationTest, EnvironmentSubstitutionInEveryString) {
  std::string text = kHead +
                     "[event_store]\ndatabase_uri = \"${MS|postgresql://default}\"\n"
                     "[server.health]\nhost = \"${HOST}\"\nport = \"${PORT|8081}\"\n" +
                     kProjection +
                     "[projectors.P.on.Registered]\nset = { name = \"${GREETING|hi} there\" }\n"
                     "[projectors.Q]\nprojector_for = \"Balances\"\naggregates = [\"User\"]\n"
                     "[projectors.Q.on.Registered]\nsql = \"SELECT '${WORD}'\"\n";
  auto d = Parse(text, {{"HOST", "10.0.0.1"}, {"WORD", "w"}, {"GREETING", ""}});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->event_store.database_uri, "postgresql://default");
  EXPECT_EQ(d->health.host, "10.0.0.1");
  EXPECT_EQ(d->health.port, 8081);
  EXPECT_EQ(d->projectors[0].handlers[0].set[0].second.literal, " there");  // empty is set
  EXPECT_EQ(d->projectors[1].handlers[0].sql[0].text, "SELECT 'w'");

  EXPECT_EQ(Error(text, {{"WORD", "w"}}),
            "Error loading Protean domain: t.toml:14:8: key 'server.health.host': Environment "
            "variable HOST is not set");
  EXPECT_EQ(Error(text, {{"HOST", "h"}, {"PORT", "eighty"}, {"WORD", "w"}}),
            "Error loading Protean domain: t.toml:15:8: key 'server.health.port': expected an "
            "integer, got \"eighty\"");
  // An integer-looking string without substitution stays a type error.
  EXPECT_EQ(Error(kHead + "[server.health]\nport = \"8080\"\n"),
            "Error loading Protean domain: t.toml:12:8: key 'server.health.port': expected an "
            "integer, got string");
}

TEST(LoaderValidationTest, WrongValueTypes) {
  EXPECT_EQ(Error(kHead + "version = \"two\"\n"),
            "Error loading Protean domain: t.toml:11:11: key 'events.Transacted.version': "
            "expected an integer, got string");
  EXPECT_EQ(Error(kHead + "version = 0\n"),
            "Error loading Protean domain: t.toml:11:11: key 'events.Transacted.version': 0 is "
            "out of range [1, 1000000]");
  EXPECT_THAT(Error("[domain]\nname = 5\n"),
              HasSubstr("t.toml:2:8: key 'domain.name': expected a string, got integer"));
  EXPECT_THAT(Error("domain = 1\n"),
              HasSubstr("t.toml:1:10: key 'domain': expected a table, got integer"));
  EXPECT_THAT(Error(kHead + "[server.health]\nport = 70000\n"),
              HasSubstr("key 'server.health.port': 70000 is out of range [1, 65535]"));
  EXPECT_THAT(Error(kHead + "[caches.c]\nURI = \"redis://x\"\nTTL = 1.5\n"),
              HasSubstr("key 'caches.c.TTL': expected an integer, got float"));
  EXPECT_THAT(Error("[domain]\nname = \"T\"\n[aggregates]\nUser = 1\n"),
              HasSubstr("t.toml:4:8: key 'aggregates.User': expected a table, got integer"));
  EXPECT_THAT(Error("upcasters = 3\n" + kHead),
              HasSubstr("key 'upcasters': expected an array of tables ([[upcasters]]), got "
                        "integer"));
  EXPECT_THAT(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\n"
                            "projector_for = \"B\"\naggregates = \"User\"\n"),
              HasSubstr("key 'projectors.P.aggregates': expected an array of strings, got "
                        "string"));
  EXPECT_THAT(Error(kHead + kProjection + "[projectors.P.on.Registered]\nsql = 5\n"),
              HasSubstr("key 'projectors.P.on.Registered.sql': expected a string or an array "
                        "of strings, got integer"));
  EXPECT_THAT(Error(kHead + kProjection + "[projectors.P.on.Registered]\ndelete = \"yes\"\n"),
              HasSubstr("key 'projectors.P.on.Registered.delete': expected a boolean, got "
                        "string"));
  EXPECT_THAT(Error(kHead + kProjection + "[projectors.P.on.Registered]\nset = 1\n"),
              HasSubstr("key 'projectors.P.on.Registered.set': expected a table of column = "
                        "value, got integer"));
  EXPECT_THAT(Error(kHead + "[projections.B]\nkey = \"k\"\ncolumns = { k = 1 }\n"),
              HasSubstr("key 'projections.B.columns.k': expected a string (SQL type), got "
                        "integer"));
  EXPECT_THAT(Error(kHead + "[[upcasters]]\nevent = \"Transacted\"\nfrom_version = 1\n"
                            "to_version = 2\nremove = [1]\n"),
              HasSubstr("key 'upcasters[0].remove[0]': expected a string, got integer"));
}

// Issue 18.3: an application's own domain.toml has no [domain] table; the name then comes
// from LoadOptions::domain_name, else PROTEAN_DOMAIN_NAME.
TEST(LoaderValidationTest, DomainNameFromOutsideTheFile) {
  const std::string body = "[aggregates.User]\n[events.Registered]\naggregate = \"User\"\n";
  auto from_env = Parse(body, {{"PROTEAN_DOMAIN_NAME", "My Bank 2"}});
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->name, "My Bank 2");
  EXPECT_EQ(from_env->aggregates[0].stream_category, "my_bank_2::user");
  EXPECT_EQ(from_env->events[0].type_string, "MyBank2.Registered.v1");

  LoadOptions options = Env({{"PROTEAN_DOMAIN_NAME", "Ignored"}});
  options.domain_name = "Ordering";
  auto from_option = ParseDomain(body, "t.toml", "", options);
  ASSERT_TRUE(from_option.ok()) << from_option.status();
  EXPECT_EQ(from_option->aggregates[0].stream_category, "ordering::user");

  options.domain_name = "Unused";  // [domain] in the file wins
  auto from_file = ParseDomain("[domain]\nname = \"Bank\"\n" + body, "t.toml", "", options);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->events[0].type_string, "Bank.Registered.v1");

  EXPECT_THAT(Error(body, {{"PROTEAN_DOMAIN_NAME", "--"}}),
              HasSubstr("domain name \"--\" (from outside the file) has no letters or digits"));
}

TEST(LoaderValidationTest, RequiredKeys) {
  EXPECT_THAT(Error("[aggregates.User]\n"),
              AllOf(HasSubstr("Error loading Protean domain: t.toml: the domain's name is "
                              "unknown: the file has no [domain] table"),
                    HasSubstr("add [domain] name = \"<the name given to Domain>\" or set "
                              "PROTEAN_DOMAIN_NAME")));
  EXPECT_EQ(Error("[domain]\n"),
            "Error loading Protean domain: t.toml:1:1: key 'domain.name': is required");
  EXPECT_THAT(Error("[domain]\nname = \"!!\"\n"),
              HasSubstr("key 'domain.name': domain name \"!!\" has no letters or digits"));
  EXPECT_THAT(Error(kHead + "[events.E]\n"),
              HasSubstr("t.toml:11:1: key 'events.E.aggregate': is required"));
  EXPECT_EQ(Error(kHead + "[projections.Balances]\ntable = \"b\"\n"),
            "Error loading Protean domain: t.toml:11:1: key 'projections.Balances.key': is "
            "required");
  EXPECT_THAT(Error(kHead + "[projections.Balances]\nkey = \"\"\n"),
              HasSubstr("key 'projections.Balances.key': must not be empty"));
  EXPECT_THAT(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\naggregates = []\n"),
              HasSubstr("key 'projectors.P.projector_for': is required"));
  EXPECT_THAT(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\n"
                            "projector_for = \"B\"\n"),
              HasSubstr("t.toml:13:1: key 'projectors.P': one of 'aggregates' or "
                        "'stream_categories' is required"));
  EXPECT_THAT(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\n"
                            "projector_for = \"B\"\naggregates = []\n"),
              HasSubstr("key 'projectors.P.aggregates': must not be empty"));
  EXPECT_THAT(Error(kHead + "[[upcasters]]\nevent = \"Transacted\"\nto_version = 2\n"),
              HasSubstr("key 'upcasters[0].from_version': is required"));
}

TEST(LoaderValidationTest, ReferencesMustExist) {
  EXPECT_EQ(Error(kHead + "[events.E]\naggregate = \"Order\"\n"),
            "Error loading Protean domain: t.toml:12:13: key 'events.E.aggregate': unknown "
            "aggregate 'Order'");
  EXPECT_EQ(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\n"
                          "projector_for = \"Balances\"\naggregates = [\"User\"]\n"),
            "Error loading Protean domain: t.toml:14:17: key 'projectors.P.projector_for': "
            "unknown projection 'Balances'");
  EXPECT_EQ(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\n"
                          "projector_for = \"B\"\naggregates = [\"User\", \"Order\"]\n"),
            "Error loading Protean domain: t.toml:15:23: key 'projectors.P.aggregates[1]': "
            "unknown aggregate 'Order'");
  EXPECT_EQ(Error(kHead + kProjection + "[projectors.P.on.Deleted]\ndelete = true\n"),
            "Error loading Protean domain: t.toml:16:18: key 'projectors.P.on.Deleted': unknown "
            "event 'Deleted'");
  EXPECT_EQ(Error(kHead + kProjection + "[projectors.P.on.Transacted]\ndelete = true\n"),
            "Error loading Protean domain: t.toml:16:18: key 'projectors.P.on.Transacted': "
            "event 'Transacted' belongs to aggregate Transaction (stream category "
            "\"test::transaction\"), which projector P does not read (categories: test::user)");
  EXPECT_THAT(Error(kHead + "[[upcasters]]\nevent = \"Nope\"\nfrom_version = 1\n"
                            "to_version = 2\n"),
              HasSubstr("t.toml:12:9: key 'upcasters[0].event': unknown event 'Nope'"));
  EXPECT_EQ(Error("[domain]\nname = \"T\"\n[projections.B]\nkey = \"k\"\n"),
            "Error loading Protean domain: t.toml:3:14: key 'projections.B': database "
            "'default' is not declared in [databases]");
  EXPECT_EQ(Error(kHead + "[projections.B]\nkey = \"k\"\ndatabase = \"other\"\n"),
            "Error loading Protean domain: t.toml:13:12: key 'projections.B.database': "
            "database 'other' is not declared in [databases]");
  EXPECT_EQ(Error(kHead + "[projections.B]\nkey = \"k\"\ncache = \"c\"\n"),
            "Error loading Protean domain: t.toml:13:9: key 'projections.B.cache': cache 'c' "
            "is not declared in [caches]");
}

TEST(LoaderValidationTest, ProvidersOfUsedStores) {
  EXPECT_THAT(Error(kHead + "[event_store]\nprovider = \"memory\"\n"),
              HasSubstr("key 'event_store.provider': event store provider \"memory\" is not "
                        "supported"));
  std::string memory_db = "[domain]\nname = \"T\"\n[databases.default]\nprovider = \"memory\"\n";
  EXPECT_TRUE(Parse(memory_db).ok());  // declared but unused: fine
  EXPECT_THAT(Error(memory_db + "[projections.B]\nkey = \"k\"\n"),
              HasSubstr("database 'default' has provider \"memory\"; database-backed "
                        "projections need provider = \"postgresql\""));
  EXPECT_THAT(Error("[domain]\nname = \"T\"\n[databases.default]\n[projections.B]\nkey = \"k\"\n"),
              HasSubstr("database 'default' has no database_uri"));
  std::string memory_cache = "[domain]\nname = \"T\"\n[caches.default]\nprovider = \"memory\"\n";
  EXPECT_THAT(Error(memory_cache + "[projections.B]\nkey = \"k\"\ncache = \"default\"\n"),
              HasSubstr("cache 'default' has provider \"memory\"; cache-backed projections need "
                        "provider = \"redis\""));
  EXPECT_THAT(Error("[domain]\nname = \"T\"\n[caches.c]\n[projections.B]\nkey = \"k\"\n"
                    "cache = \"c\"\n"),
              HasSubstr("cache 'c' has no URI"));
}

const std::string kCache = "[caches.default]\nURI = \"redis://127.0.0.1:6379/2\"\n";

TEST(LoaderValidationTest, CacheBackedProjections) {
  std::string text = kHead + kCache +
                     "[projections.CachedView]\nkey = \"id\"\ncache = \"default\"\n"
                     "[projectors.P]\nprojector_for = \"CachedView\"\naggregates = [\"User\"]\n"
                     "[projectors.P.on.Registered]\nkey = \":user_id\"\nset = { n = \":name\" }\n";
  auto d = Parse(text);
  ASSERT_TRUE(d.ok()) << d.status();
  const Projection& p = d->projections[0];
  EXPECT_TRUE(p.cache_backed());
  EXPECT_EQ(p.cache, "default");
  EXPECT_EQ(p.database, "");
  EXPECT_EQ(p.cache_prefix, "cached_view");
  EXPECT_EQ(d->caches[0].ttl_seconds, 300);

  EXPECT_EQ(Error(kHead + kCache +
                  "[projections.CachedView]\nkey = \"id\"\ncache = \"default\"\n"
                  "[projectors.P]\nprojector_for = \"CachedView\"\naggregates = [\"User\"]\n"
                  "[projectors.P.on.Registered]\nsql = \"DELETE FROM x\"\n"),
            "Error loading Protean domain: t.toml:20:7: key 'projectors.P.on.Registered.sql': "
            "projection CachedView is cache-backed: only the action form is allowed");
  EXPECT_THAT(Error(kHead + kCache +
                    "[projections.B]\nkey = \"k\"\ncache = \"default\"\n"
                    "database = \"default\"\n"),
              HasSubstr("key 'projections.B.cache': a projection is either database-backed or "
                        "cache-backed"));
  EXPECT_THAT(Error(kHead + kCache +
                    "[projections.B]\nkey = \"k\"\ncache = \"default\"\n"
                    "schema = \"s\"\n"),
              HasSubstr("key 'projections.B.schema': a cache-backed projection has no schema"));
}

TEST(LoaderValidationTest, DuplicateNames) {
  EXPECT_EQ(Error(kHead + "[aggregates.Member]\nstream_category = \"user\"\n"),
            "Error loading Protean domain: t.toml:11:13: key 'aggregates.Member': duplicate "
            "stream category \"test::user\" (also aggregate User)");
  EXPECT_THAT(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\n"
                            "projector_for = \"B\"\naggregates = [\"User\", \"User\"]\n"),
              HasSubstr("t.toml:15:23: key 'projectors.P.aggregates[1]': duplicate stream "
                        "category \"test::user\""));
  EXPECT_THAT(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\n"
                            "projector_for = \"B\"\nstream_categories = [\"a\", \"a\"]\n"),
              HasSubstr("key 'projectors.P.stream_categories[1]': duplicate stream category"));
  EXPECT_EQ(Error(kHead + "[projections.A]\nkey = \"k\"\ntable = \"t\"\n"
                          "[projections.B]\nkey = \"k\"\ntable = \"t\"\n"),
            "Error loading Protean domain: t.toml:14:14: key 'projections.B': duplicate table "
            "\"t\" (also projection A)");
  // A cache-backed projection has no table: no clash with a database table.
  EXPECT_TRUE(Parse(kHead + kCache +
                    "[projections.CachedView]\nkey = \"k\"\ncache = \"default\"\n"
                    "[projections.B]\nkey = \"k\"\ntable = \"cached_view\"\n")
                  .ok());
  // The database's schema is the default schema of its projections.
  EXPECT_THAT(Error("[domain]\nname = \"T\"\n[databases.default]\ndatabase_uri = \"x\"\n"
                    "schema = \"s\"\n[projections.A]\nkey = \"k\"\n"
                    "[projections.B]\nkey = \"k\"\ntable = \"a\"\nschema = \"s\"\n"),
              HasSubstr("key 'projections.B': duplicate table \"a\" (also projection A)"));
  // Same table name in another schema is another table.
  EXPECT_TRUE(Parse(kHead + "[projections.A]\nkey = \"k\"\ntable = \"t\"\n"
                            "[projections.B]\nkey = \"k\"\ntable = \"t\"\nschema = \"s2\"\n")
                  .ok());
  EXPECT_THAT(Error(kHead + kCache +
                    "[projections.CachedView]\nkey = \"k\"\ncache = \"default\"\n"
                    "[projections.Cached_View]\nkey = \"k\"\n"
                    "cache = \"default\"\n"),
              HasSubstr("key 'projections.Cached_View': duplicate cache key prefix "
                        "\"cached_view\" (also projection CachedView)"));
}

TEST(LoaderValidationTest, InvalidNames) {
  EXPECT_THAT(Error(kHead + "[events.\"Bad-Name\"]\naggregate = \"User\"\n"),
              HasSubstr("key 'events.Bad-Name': is not a valid event name"));
  EXPECT_THAT(Error("[domain]\nname = \"T\"\n[aggregates.\"1User\"]\n"),
              HasSubstr("key 'aggregates.1User': is not a valid aggregate name"));
  EXPECT_THAT(Error(kHead + "[aggregates.Order]\nstream_category = \"or-der\"\n"),
              HasSubstr("key 'aggregates.Order.stream_category': must be non-empty and must not "
                        "contain '-'"));
  EXPECT_THAT(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\n"
                            "projector_for = \"B\"\nstream_categories = [\"a-b\"]\n"),
              HasSubstr("key 'projectors.P.stream_categories[0]': a stream category must be "
                        "non-empty and must not contain '-'"));
}

TEST(LoaderValidationTest, ProjectorCategories) {
  std::string text = kHead +
                     "[projections.B]\nkey = \"k\"\n[projectors.P]\nprojector_for = \"B\"\n"
                     "stream_categories = [\"test::user\", \"legacy::accounts\"]\n"
                     "[projectors.P.on.Registered]\nset = { a = 1 }\n";
  auto d = Parse(text);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->projectors[0].categories, ElementsAre("test::user", "legacy::accounts"));
  EXPECT_THAT(Error(kHead + "[projections.B]\nkey = \"k\"\n[projectors.P]\nprojector_for = \"B\"\n"
                            "aggregates = [\"User\"]\nstream_categories = [\"x\"]\n"),
              HasSubstr("key 'projectors.P.stream_categories': give either 'aggregates' or "
                        "'stream_categories', not both"));
  EXPECT_THAT(Error(kHead + kProjection + "subscriber = \"\"\n"),
              HasSubstr("key 'projectors.P.subscriber': must not be empty"));
}

TEST(LoaderValidationTest, ActionFormHandlers) {
  std::string text =
      kHead +
      "[projections.B]\nkey = \"user_id\"\n"
      "[projectors.P]\nprojector_for = \"B\"\naggregates = [\"User\", \"Transaction\"]\n"
      "[projectors.P.on.Registered]\n"
      "set = { pos = \":$global_position\", raw = \"::text\", n = 1.5, ok = true, "
      "tags = [\":a\", 2], obj = { x = \":y\" }, when = 1979-05-27T07:32:00Z }\n"
      "[projectors.P.on.Transacted]\nkey = \":$stream_id\"\ndelete = true\n";
  auto d = Parse(text);
  ASSERT_TRUE(d.ok()) << d.status();
  const Handler& registered = d->projectors[0].handlers[0];
  // The key defaults to ":<key column>".
  ASSERT_TRUE(registered.key.parameter.has_value());
  EXPECT_EQ(registered.key.parameter->text, ":user_id");
  EXPECT_THAT(registered.key.parameter->path, ElementsAre("user_id"));
  ASSERT_EQ(registered.set.size(), 7u);  // declaration order
  EXPECT_EQ(registered.set[0].first, "pos");
  EXPECT_EQ(registered.set[0].second.parameter->attribute, MessageAttribute::kGlobalPosition);
  EXPECT_EQ(registered.set[1].second.literal, "::text");  // not exactly a parameter
  EXPECT_EQ(registered.set[2].second.literal, 1.5);
  EXPECT_EQ(registered.set[3].second.literal, true);
  EXPECT_EQ(registered.set[4].second.literal, nlohmann::json::parse(R"([":a", 2])"));
  EXPECT_EQ(registered.set[5].second.literal, nlohmann::json::parse(R"({"x": ":y"})"));
  EXPECT_EQ(registered.set[6].second.literal, "1979-05-27T07:32:00Z");
  const Handler& transacted = d->projectors[0].handlers[1];
  EXPECT_TRUE(transacted.remove);
  EXPECT_EQ(transacted.key.parameter->attribute, MessageAttribute::kStreamId);

  std::string base = kHead + kProjection + "[projectors.P.on.Registered]\n";  // line 16
  EXPECT_EQ(Error(base + "set = { a = \":$nope\" }\n"),
            "Error loading Protean domain: t.toml:17:13: key "
            "'projectors.P.on.Registered.set.a': unknown message attribute ':$nope' (known: "
            ":$global_position, :$position, :$stream_name, :$stream_id, :$type, :$version, "
            ":$time, :$message_id)");
  EXPECT_THAT(Error(base + "key = \":$bad\"\nset = { a = 1 }\n"),
              HasSubstr("key 'projectors.P.on.Registered.key': unknown message attribute "
                        "':$bad'"));
  EXPECT_THAT(Error(base + "key = true\nset = { a = 1 }\n"),
              HasSubstr("key 'projectors.P.on.Registered.key': must be a parameter, a string or "
                        "an integer"));
  EXPECT_THAT(Error(base + "increment = { a = \"x\" }\n"),
              HasSubstr("key 'projectors.P.on.Registered.increment.a': an increment must be a "
                        "number or a parameter"));
  EXPECT_THAT(Error(base + "delete = true\nset = { a = 1 }\n"),
              HasSubstr("key 'projectors.P.on.Registered.delete': delete = true cannot be "
                        "combined with set, insert, update or increment"));
  EXPECT_THAT(Error(base + "key = \":id\"\n"),
              HasSubstr("t.toml:16:1: key 'projectors.P.on.Registered': the handler does "
                        "nothing"));
  EXPECT_THAT(Error(base + "delete = false\n"),
              HasSubstr("key 'projectors.P.on.Registered': the handler does nothing"));
  EXPECT_THAT(Error(base),
              HasSubstr("key 'projectors.P.on.Registered': a handler needs 'sql' (SQL form) or "
                        "an action (set, insert, update, increment, delete) or 'lua' (Lua form)"));
  EXPECT_THAT(Error(base + "sql = \"SELECT 1\"\nset = { a = 1 }\n"),
              HasSubstr("key 'projectors.P.on.Registered.sql': a handler is in SQL form or in "
                        "action form, not both"));
  EXPECT_THAT(Error(base + "set = { a = nan }\n"),
              HasSubstr("key 'projectors.P.on.Registered.set.a': nan and inf are not valid JSON"));
  EXPECT_THAT(Error(kHead + kProjection + "[projectors.P.on]\nRegistered = 1\n"),
              HasSubstr("key 'projectors.P.on.Registered': expected a table, got integer"));
}

// update, negated parameters and the explicit NULL (docs/domain-toml.md "Action form").
TEST(LoaderValidationTest, ActionFormUpdateNegationAndNull) {
  std::string text =
      kHead + kProjection +
      "[projectors.P.on.Registered]\n"  // line 16
      "insert = { n = 0, note = { null = true } }\n"
      "update = { n = \"-:quantity\", note = { null = true }, doc = { null = 1, x = 2 }, "
      "raw = \"-:not a parameter\", tags = [] }\n"
      "increment = { n = \"-:quantity\", m = \":$position\" }\n";
  auto d = Parse(text);
  ASSERT_TRUE(d.ok()) << d.status();
  const Handler& h = d->projectors[0].handlers[0];
  ASSERT_EQ(h.update.size(), 5u);  // declaration order
  EXPECT_EQ(h.update[0].first, "n");
  ASSERT_TRUE(h.update[0].second.parameter.has_value());
  EXPECT_TRUE(h.update[0].second.negate);
  EXPECT_EQ(h.update[0].second.parameter->text, ":quantity");
  EXPECT_FALSE(h.update[1].second.parameter.has_value());
  EXPECT_TRUE(h.update[1].second.literal.is_null());  // { null = true }
  // Any other table is a JSON literal, even with a key "null" among others.
  EXPECT_EQ(h.update[2].second.literal, nlohmann::json::parse(R"({"null": 1, "x": 2})"));
  EXPECT_EQ(h.update[3].second.literal, "-:not a parameter");  // not exactly "-" + a parameter
  EXPECT_FALSE(h.update[3].second.negate);
  EXPECT_EQ(h.update[4].second.literal, nlohmann::json::array());
  EXPECT_TRUE(h.insert[1].second.literal.is_null());
  ASSERT_EQ(h.increment.size(), 2u);
  EXPECT_TRUE(h.increment[0].second.negate);
  EXPECT_FALSE(h.increment[1].second.negate);
  // An update alone is a handler that does something.
  auto alone = Parse(kHead + kProjection + "[projectors.P.on.Registered]\nupdate = { a = 1 }\n");
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_TRUE(alone->projectors[0].handlers[0].set.empty());
  // insert + update of one column: one value for new rows, another for existing ones.
  EXPECT_TRUE(Parse(kHead + kProjection +
                    "[projectors.P.on.Registered]\ninsert = { a = 1 }\nupdate = { a = 2 }\n")
                  .ok());

  std::string base = kHead + kProjection + "[projectors.P.on.Registered]\n";  // line 16
  EXPECT_EQ(Error(base + "set = { a = 1, b = 2 }\nupdate = { c = 3, b = 4 }\n"),
            "Error loading Protean domain: t.toml:18:23: key "
            "'projectors.P.on.Registered.update.b': column 'b' is in both set and update: set "
            "already assigns it when the row exists (and creates the row); give it in one of "
            "them (insert + update assign different values to new and existing rows)");
  EXPECT_EQ(Error(base + "update = { a = 1 }\ndelete = true\n"),
            "Error loading Protean domain: t.toml:18:10: key "
            "'projectors.P.on.Registered.delete': delete = true cannot be combined with set, "
            "insert, update or increment");
  EXPECT_EQ(Error(base + "update = { a = { null = false } }\n"),
            "Error loading Protean domain: t.toml:17:25: key "
            "'projectors.P.on.Registered.update.a.null': an explicit NULL is written "
            "{ null = true }");
  EXPECT_THAT(Error(base + "update = { a = { null = \"yes\" } }\n"),
              HasSubstr("t.toml:17:25: key 'projectors.P.on.Registered.update.a.null': an "
                        "explicit NULL is written { null = true }"));
  EXPECT_THAT(Error(base + "increment = { a = { null = true } }\n"),
              HasSubstr("t.toml:17:19: key 'projectors.P.on.Registered.increment.a': an "
                        "increment must be a number or a parameter"));
  EXPECT_THAT(Error(base + "key = \"-:id\"\nupdate = { a = 1 }\n"),
              HasSubstr("t.toml:17:7: key 'projectors.P.on.Registered.key': a key cannot be a "
                        "negated parameter"));
  EXPECT_THAT(Error(base + "key = { null = true }\nupdate = { a = 1 }\n"),
              HasSubstr("key 'projectors.P.on.Registered.key': must be a parameter, a string or "
                        "an integer"));
  EXPECT_THAT(Error(base + "update = { a = \"-:$nope\" }\n"),
              HasSubstr("t.toml:17:16: key 'projectors.P.on.Registered.update.a': unknown "
                        "message attribute ':$nope'"));
  EXPECT_THAT(Error(base + "update = 1\n"),
              HasSubstr("key 'projectors.P.on.Registered.update': expected a table of column = "
                        "value, got integer"));
  EXPECT_THAT(Error(base + "sql = \"SELECT 1\"\nupdate = { a = 1 }\n"),
              HasSubstr("a handler is in SQL form or in action form, not both (remove key/set/"
                        "insert/update/increment/delete or sql)"));
}

TEST(LoaderValidationTest, DeclaredColumnsAreChecked) {
  std::string head = kHead +
                     "[projections.B]\nkey = \"user_id\"\n"
                     "columns = { user_id = \"text\", balance = \"numeric\" }\n"
                     "[projectors.P]\nprojector_for = \"B\"\naggregates = [\"User\"]\n"
                     "[projectors.P.on.Registered]\n";  // line 17
  EXPECT_TRUE(Parse(head + "set = { balance = 0 }\n").ok());
  EXPECT_EQ(Error(head + "set = { balance = 0, name = \":name\" }\n"),
            "Error loading Protean domain: t.toml:18:22: key "
            "'projectors.P.on.Registered.set.name': column 'name' is not declared in "
            "projection B's columns");
  EXPECT_THAT(Error(head + "increment = { bal = 1 }\n"),
              HasSubstr("key 'projectors.P.on.Registered.increment.bal': column 'bal' is not "
                        "declared"));
  EXPECT_EQ(Error(kHead + "[projections.B]\nkey = \"user_id\"\ncolumns = { id = \"text\" }\n"),
            "Error loading Protean domain: t.toml:13:11: key 'projections.B.columns': the key "
            "column 'user_id' is not declared");
}

// CREATE TABLE splices declared types: anything but a type name is refused when the domain
// loads, with file, line, column and key (the type itself is not echoed).
TEST(LoaderValidationTest, DeclaredColumnTypesAreTypeNamesOnly) {
  std::string projection = "[projections.B]\nkey = \"k\"\n";  // lines 11-12
  EXPECT_TRUE(Parse(kHead + projection +
                    "columns = { k = \"varchar(255)\", n = \"numeric(10, 2)[]\", "
                    "t = \"timestamp(3) with time zone\" }\n")
                  .ok());
  EXPECT_EQ(Error(kHead + projection +
                  "columns = { k = \"text\", x = \"text); DROP TABLE victim; --\" }\n"),
            "Error loading Protean domain: t.toml:13:29: key 'projections.B.columns.x': invalid "
            "SQL type: unexpected ')' at character 5; expected a type name with optional "
            "modifiers and array brackets, such as text, varchar(255), numeric(10, 2), double "
            "precision, timestamp(3) with time zone or text[]");
  // Also when the type comes from the environment.
  EXPECT_THAT(Error(kHead + projection + "columns = { k = \"${T}\" }\n", {{"T", "int; --"}}),
              HasSubstr("t.toml:13:17: key 'projections.B.columns.k': invalid SQL type: "
                        "unexpected ';' at character 4"));
}

TEST(LoaderValidationTest, SqlFormHandlers) {
  std::string base = kHead + kProjection + "[projectors.P.on.Registered]\n";  // line 16
  auto d =
      Parse(base +
            "sql = [\"INSERT INTO b (user_id) VALUES (:user_id)\", "
            "\"UPDATE b SET n = :payload.name::text, p = :$position WHERE user_id = :user_id\"]\n");
  ASSERT_TRUE(d.ok()) << d.status();
  const Handler& h = d->projectors[0].handlers[0];
  EXPECT_EQ(h.form, Handler::Form::kSql);
  ASSERT_EQ(h.sql.size(), 2u);
  EXPECT_EQ(h.sql[0].text, "INSERT INTO b (user_id) VALUES ($1)");
  EXPECT_EQ(h.sql[1].text, "UPDATE b SET n = $1::text, p = $2 WHERE user_id = $3");
  EXPECT_THAT(h.sql[1].parameters[0].path, ElementsAre("payload", "name"));

  EXPECT_EQ(Error(base + "sql = \"SELECT :$when\"\n"),
            "Error loading Protean domain: t.toml:17:7: key 'projectors.P.on.Registered.sql': "
            "unknown message attribute ':$when' (known: :$global_position, :$position, "
            ":$stream_name, :$stream_id, :$type, :$version, :$time, :$message_id)");
  EXPECT_THAT(Error(base + "sql = [\"SELECT 1\", \"SELECT 'x\"]\n"),
              HasSubstr("key 'projectors.P.on.Registered.sql[1]': unterminated string literal"));
  EXPECT_THAT(Error(base + "sql = [\"SELECT 1\", 2]\n"),
              HasSubstr("key 'projectors.P.on.Registered.sql[1]': expected a string, got "
                        "integer"));
  EXPECT_THAT(Error(base + "sql = []\n"),
              HasSubstr("key 'projectors.P.on.Registered.sql': must not be empty"));
  EXPECT_THAT(Error(base + "sql = \" ; \"\n"),
              HasSubstr("key 'projectors.P.on.Registered.sql': the SQL statement is empty"));
}

// The Lua form: its source and the line of its first line (the newline right after the
// opening quotes of a multi-line string is not part of it), exclusive with the other forms.
TEST(LoaderValidationTest, LuaFormHandlers) {
  std::string base = kHead + kProjection + "[projectors.P.on.Registered]\n";  // line 16
  auto d = Parse(base + "lua = \"\"\"\nlocal r = rows[event.id]\nr.n = 1\n\"\"\"\n");
  ASSERT_TRUE(d.ok()) << d.status();
  const Handler& h = d->projectors[0].handlers[0];
  EXPECT_EQ(h.form, Handler::Form::kLua);
  EXPECT_EQ(h.lua, "local r = rows[event.id]\nr.n = 1\n");
  EXPECT_EQ(h.lua_line, 18);
  EXPECT_EQ(h.where, "t.toml:16");

  auto same_line = Parse(base + "lua = \'\'\'rows[event.id] = nil\nlocal x = 1\'\'\'\n");
  ASSERT_TRUE(same_line.ok()) << same_line.status();
  EXPECT_EQ(same_line->projectors[0].handlers[0].lua_line, 17);
  auto one_line = Parse(base + "\n\nlua = \"rows[event.id] = nil\"\n");
  ASSERT_TRUE(one_line.ok()) << one_line.status();
  EXPECT_EQ(one_line->projectors[0].handlers[0].lua_line, 19);

  EXPECT_EQ(Error(base + "lua = \"rows[1] = nil\"\nsql = \"SELECT 1\"\n"),
            "Error loading Protean domain: t.toml:17:7: key 'projectors.P.on.Registered.lua': a "
            "handler is in Lua form or in SQL form, not both (remove sql or lua)");
  EXPECT_THAT(
      Error(base + "lua = \"rows[1] = nil\"\nset = { a = 1 }\n"),
      HasSubstr("t.toml:17:7: key 'projectors.P.on.Registered.lua': a handler is in Lua "
                "form or in action form, not both (remove key/set/insert/update/increment/delete "
                "or lua)"));
  EXPECT_THAT(Error(base + "lua = 5\n"),
              HasSubstr("key 'projectors.P.on.Registered.lua': expected a string (the "
                        "handler's Lua source), got integer"));
  EXPECT_THAT(Error(base + "lua = \"\"\"\n  \n\"\"\"\n"),
              HasSubstr("key 'projectors.P.on.Registered.lua': the Lua handler is empty"));
  const std::string cached = kHead +
                             "[caches.c]\nURI = \"redis://r\"\n[projections.Balances]\n"
                             "key = \"user_id\"\ncache = \"c\"\n[projectors.P]\n"
                             "projector_for = \"Balances\"\naggregates = [\"User\"]\n"
                             "[projectors.P.on.Registered]\nlua = \"rows[1] = nil\"\n";
  EXPECT_THAT(Error(cached),
              HasSubstr("t.toml:20:7: key 'projectors.P.on.Registered.lua': projection Balances "
                        "is cache-backed and has Lua handlers: declare its columns"));
  auto declared = Parse(absl::StrReplaceAll(
      cached, {{"cache = \"c\"\n", "cache = \"c\"\ncolumns = { user_id = \"text\" }\n"}}));
  EXPECT_TRUE(declared.ok()) << declared.status();
}

TEST(LoaderValidationTest, DeclarationOrderIsKept) {
  auto d = Parse(kHead +
                 "[projections.Zeta]\nkey = \"k\"\n[projections.Alpha]\nkey = \"k\"\n"
                 "[projections.Mid]\nkey = \"k\"\n"
                 "[projectors.Z2]\nprojector_for = \"Alpha\"\naggregates = [\"User\"]\n"
                 "[projectors.A1]\nprojector_for = \"Alpha\"\naggregates = [\"User\"]\n");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->projections.size(), 3u);
  EXPECT_EQ(d->projections[0].name, "Zeta");
  EXPECT_EQ(d->projections[1].name, "Alpha");
  EXPECT_EQ(d->projections[2].name, "Mid");
  EXPECT_EQ(d->aggregates[0].name, "User");
  EXPECT_EQ(d->aggregates[1].name, "Transaction");
  std::vector<const Projector*> alpha = d->ProjectorsFor("Alpha");
  ASSERT_EQ(alpha.size(), 2u);
  EXPECT_EQ(alpha[0]->name, "Z2");
  EXPECT_EQ(alpha[1]->name, "A1");
}

TEST(LoaderOverlayTest, ProteanEnvOverlayIsDeepMerged) {
  std::string text =
      kHead + kProjection +
      "[staging]\ndebug = true\n"
      "[staging.databases.default]\ndatabase_uri = \"${STAGING_DB|postgresql://staging}\"\n"
      "[staging.server.health]\nport = 9000\n"
      "[staging.projectors.P]\naggregates = [\"User\", \"Transaction\"]\n"
      "[staging.events.Deposited]\naggregate = \"Transaction\"\n"
      "[prod.databases.default]\ndatabase_uri = \"${PROD_DB}\"\n";
  // No PROTEAN_ENV: the root as written; inactive overlays are not substituted (PROD_DB unset).
  auto plain = Parse(text);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->databases[0].database_uri, "postgresql://db/app");
  EXPECT_EQ(plain->health.port, 8080);
  EXPECT_EQ(plain->FindEvent("Deposited"), nullptr);
  EXPECT_THAT(plain->projectors[0].categories, ElementsAre("test::user"));

  auto staging = Parse(text, {{"PROTEAN_ENV", "staging"}});
  ASSERT_TRUE(staging.ok()) << staging.status();
  EXPECT_EQ(staging->databases[0].database_uri, "postgresql://staging");
  EXPECT_EQ(staging->databases[0].provider, "postgresql");  // merged, not replaced
  EXPECT_EQ(staging->health.port, 9000);
  EXPECT_EQ(staging->health.host, "127.0.0.1");
  ASSERT_NE(staging->FindEvent("Deposited"), nullptr);
  EXPECT_EQ(staging->events.back().name, "Deposited");
  // Arrays replace.
  EXPECT_THAT(staging->projectors[0].categories, ElementsAre("test::user", "test::transaction"));
  EXPECT_EQ(staging->projectors[0].projector_for, "Balances");

  // The active overlay is substituted; errors point into the overlay.
  EXPECT_EQ(Error(text, {{"PROTEAN_ENV", "prod"}}),
            "Error loading Protean domain: t.toml:27:16: key 'databases.default.database_uri': "
            "Environment variable PROD_DB is not set");
  EXPECT_TRUE(Parse(text, {{"PROTEAN_ENV", "prod"}, {"PROD_DB", "postgresql://p"}}).ok());
  // An environment without an overlay table: the root as written.
  EXPECT_TRUE(Parse(text, {{"PROTEAN_ENV", "development"}}).ok());

  // Errors of overlaid values name the overlay's line.
  std::string bad = kHead + "[staging.events.Transacted]\nversion = \"two\"\n";
  EXPECT_TRUE(Parse(bad).ok());
  EXPECT_EQ(Error(bad, {{"PROTEAN_ENV", "staging"}}),
            "Error loading Protean domain: t.toml:12:11: key 'events.Transacted.version': "
            "expected an integer, got string");
}

TEST(LoaderOverlayTest, OverlaysMayOnlyHoldTopLevelDomainKeys) {
  EXPECT_EQ(Error(kHead + "[staging]\nbogus = 1\n"),
            "Error loading Protean domain: t.toml:12:1: key 'staging.bogus': unknown key (the "
            "environment overlay [staging] may only hold top-level domain keys)");
  // A misspelt section is caught the same way (it looks like an overlay).
  EXPECT_THAT(Error(kHead + "[projection.Balances]\nkey = \"k\"\n"),
              HasSubstr("t.toml:11:13: key 'projection.Balances': unknown key (the environment "
                        "overlay [projection] may only hold top-level domain keys)"));
  // Unknown keys inside the active overlay are caught after merging.
  EXPECT_THAT(Error(kHead + "[staging.domain]\nnmae = \"x\"\n", {{"PROTEAN_ENV", "staging"}}),
              HasSubstr("t.toml:12:1: key 'domain.nmae': unknown key"));
}

const std::string kMulti = R"toml([domains.eu.domain]
name = "Shop EU"
[domains.eu.aggregates.Order]
[domains.us.domain]
name = "Shop US"
[domains.us.aggregates.Order]
[domains.us.staging.aggregates.Refund]
)toml";

TEST(LoaderMultiDomainTest, InstancesAreSelected) {
  auto eu = Parse(kMulti, {}, "eu");
  ASSERT_TRUE(eu.ok()) << eu.status();
  EXPECT_EQ(eu->name, "Shop EU");
  EXPECT_EQ(eu->aggregates[0].stream_category, "shop_eu::order");
  auto us = Parse(kMulti, {{"PROTEAN_ENV", "staging"}}, "us");
  ASSERT_TRUE(us.ok()) << us.status();
  EXPECT_EQ(us->camel_case_name, "ShopUs");
  EXPECT_EQ(us->aggregates.size(), 2u);  // overlay inside the instance
}

TEST(LoaderMultiDomainTest, Errors) {
  EXPECT_EQ(Error(kMulti),
            "Error loading Protean domain: t.toml: the file declares several domains (eu, us): "
            "pick one with --domain t.toml:<instance>, e.g. --domain t.toml:eu");
  EXPECT_EQ(Error(kMulti, {}, "asia"),
            "Error loading Protean domain: t.toml: domain instance 'asia' is not declared "
            "(declared: eu, us)");
  EXPECT_EQ(Error(kHead, {}, "eu"),
            "Error loading Protean domain: t.toml: domain instance 'eu' requested, but the file "
            "declares a single domain (no [domains.<instance>] tables)");
  EXPECT_THAT(Error("debug = true\n" + kMulti, {}, "eu"),
              HasSubstr("t.toml:1:1: key 'debug': not allowed beside [domains.<instance>] "
                        "tables"));
  EXPECT_THAT(Error("[domains]\neu = 1\n", {}, "eu"),
              HasSubstr("key 'domains.eu': expected a table, got integer"));
  EXPECT_THAT(Error("[domains]\n", {}, "eu"),
              HasSubstr("key 'domains': declares no domain instance"));
  // Keys inside an instance are named with their full path.
  EXPECT_THAT(Error(kMulti + "[domains.eu.events.Placed]\n", {}, "eu"),
              HasSubstr("t.toml:8:1: key 'domains.eu.events.Placed.aggregate': is required"));
}

const std::string kUpcastHead = R"toml([domain]
name = "Test"
[aggregates.Transaction]
[events.Transacted]
aggregate = "Transaction"
version = 3
)toml";

std::string Upcaster(int from, int to) {
  return "[[upcasters]]\nevent = \"Transacted\"\nfrom_version = " + std::to_string(from) +
         "\nto_version = " + std::to_string(to) + "\n";
}

TEST(LoaderUpcasterTest, ValidChainsLoad) {
  auto d = Parse(kUpcastHead + Upcaster(1, 2) + Upcaster(2, 3));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->Resolve("Test.Transacted.v1").chain.size(), 2u);
  EXPECT_EQ(d->Resolve("Test.Transacted.v2").chain.size(), 1u);
  EXPECT_TRUE(d->Resolve("Test.Transacted.v3").chain.empty());
  EXPECT_NE(d->Resolve("Test.Transacted.v3").event, nullptr);
  // A skipping step is fine too.
  EXPECT_TRUE(Parse(kUpcastHead + Upcaster(1, 3) + Upcaster(2, 3)).ok());
}

TEST(LoaderUpcasterTest, ProteanValidationMessages) {
  EXPECT_EQ(Error(kUpcastHead + Upcaster(1, 2) + Upcaster(2, 3) + Upcaster(1, 3)),
            "Error loading Protean domain: t.toml:7:1: key 'upcasters': Duplicate upcaster for "
            "`Test.Transacted` from version `v1`: upcasters[0] (→ v2) and upcasters[2] (→ v3)");
  EXPECT_EQ(Error(kUpcastHead + Upcaster(1, 2) + Upcaster(2, 1)),
            "Error loading Protean domain: t.toml:7:1: key 'upcasters': Upcaster chain for "
            "`Test.Transacted` does not converge to a single current version. Terminal versions "
            "found: []");
  EXPECT_EQ(Error(kUpcastHead + Upcaster(1, 3) + Upcaster(2, 4)),
            "Error loading Protean domain: t.toml:7:1: key 'upcasters': Upcaster chain for "
            "`Test.Transacted` does not converge to a single current version. Terminal versions "
            "found: ['v3', 'v4']");
  EXPECT_EQ(Error(kUpcastHead + Upcaster(1, 2)),
            "Error loading Protean domain: t.toml:7:1: key 'upcasters': Upcaster chain for "
            "`Test.Transacted` targets version `v2`, but no event is registered with type "
            "string `Test.Transacted.v2`");
  EXPECT_THAT(Error(kUpcastHead + Upcaster(1, 0)),
              HasSubstr("key 'upcasters[0].to_version': 0 is out of range"));
}

}  // namespace
}  // namespace protean_admin::domain
