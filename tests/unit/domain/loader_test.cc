#include "domain/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "domain/upcasters.h"
#include "tests/harness/load_env.h"

namespace protean_admin::domain {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

[[maybe_unused]] std::string Msg(const absl::Status& status) {
  return std::string(status.message());
}

LoadOptions Env(std::map<std::string, std::string> vars = {}) {
  return testing::EnvOptions(std::move(vars));
}

// A whole domain.toml with both handler forms, as a user would write it.
constexpr const char* kDesignExample = R"toml(
[domain]
name = "Test"                       # categories "test::user", types "Test.Registered.v1"

[event_store]
provider = "message_db"
database_uri = "${MESSAGE_DB_URL|postgresql://message_store@localhost:5433/message_store}"

[databases.default]
provider = "postgresql"
database_uri = "${DATABASE_URL|postgresql://postgres@localhost:5432/app}"
schema = "public"                   # optional

[caches.default]                    # for cache-backed projections
provider = "redis"
URI = "redis://127.0.0.1:6379/2"
TTL = 300                           # seconds, Protean's default

[server.health]                     # where the Protean server answers while it runs
host = "127.0.0.1"
port = 8080

[aggregates.User]                   # stream category test::user
[aggregates.Transaction]
stream_category = "transaction"     # optional; default underscore(name)

[events.Registered]
aggregate = "User"                  # version defaults to 1
[events.Transacted]
aggregate = "Transaction"
version = 2
[events.ProfileUpdated]
aggregate = "User"

[[upcasters]]                       # Test.Transacted.v1 -> v2
event = "Transacted"
from_version = 1
to_version = 2
rename = { amt = "amount" }         # applied in this order: rename, remove, defaults, set
remove = []
defaults = { currency = "USD" }     # only where the field is absent
set = {}                            # always

[projections.Balances]
key = "user_id"                     # identifier column (required)
table = "balances"                  # default underscore(name); database = "default" by default
columns = { user_id = "varchar(255)", name = "varchar(255)", balance = "double precision" }
                                    # optional: create the table when it does not exist

[projections.UserDirectory]
key = "user_id"

[projectors.TransactionProjector]
projector_for = "Balances"
aggregates = ["Transaction", "User"]            # or stream_categories = [...] verbatim
subscriber = "app.projections.TransactionProjector"   # optional: Protean fqn, enables hand-off

[projectors.TransactionProjector.on.Registered]         # action form
key = ":user_id"
set = { name = ":name", balance = 0 }

[projectors.TransactionProjector.on.Transacted]
key = ":user_id"
insert = { name = "", balance = ":amount" }    # when the row does not exist yet
increment = { balance = ":amount" }            # when it does

[projectors.UserDirectoryProjector]
projector_for = "UserDirectory"
aggregates = ["User"]

[projectors.UserDirectoryProjector.on.Registered]      # SQL form: one statement or a list
sql = "INSERT INTO user_directory (user_id, email, name) VALUES (:user_id, :email, :name) ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name"
)toml";

TEST(LoaderTest, DesignExampleLoadsCompletely) {
  auto d = ParseDomain(kDesignExample, "domain.toml", "", Env());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "Test");
  EXPECT_EQ(d->normalized_name, "test");
  EXPECT_EQ(d->camel_case_name, "Test");
  EXPECT_EQ(d->source_file, "domain.toml");

  EXPECT_EQ(d->event_store.provider, "message_db");
  EXPECT_EQ(d->event_store.database_uri, "postgresql://message_store@localhost:5433/message_store");
  ASSERT_EQ(d->databases.size(), 1u);
  EXPECT_EQ(d->databases[0].name, "default");
  EXPECT_EQ(d->databases[0].provider, "postgresql");
  EXPECT_EQ(d->databases[0].database_uri, "postgresql://postgres@localhost:5432/app");
  EXPECT_EQ(d->databases[0].schema, "public");
  ASSERT_EQ(d->caches.size(), 1u);
  EXPECT_EQ(d->caches[0].name, "default");
  EXPECT_EQ(d->caches[0].provider, "redis");
  EXPECT_EQ(d->caches[0].uri, "redis://127.0.0.1:6379/2");
  EXPECT_EQ(d->caches[0].ttl_seconds, 300);
  EXPECT_EQ(d->health.host, "127.0.0.1");
  EXPECT_EQ(d->health.port, 8080);

  ASSERT_EQ(d->aggregates.size(), 2u);
  EXPECT_EQ(d->aggregates[0].name, "User");
  EXPECT_EQ(d->aggregates[0].stream_category, "test::user");
  EXPECT_EQ(d->aggregates[1].name, "Transaction");
  EXPECT_EQ(d->aggregates[1].stream_category, "test::transaction");

  ASSERT_EQ(d->events.size(), 3u);  // declaration order
  EXPECT_EQ(d->events[0].name, "Registered");
  EXPECT_EQ(d->events[0].aggregate, "User");
  EXPECT_EQ(d->events[0].version, 1);
  EXPECT_EQ(d->events[0].type_string, "Test.Registered.v1");
  EXPECT_EQ(d->events[1].name, "Transacted");
  EXPECT_EQ(d->events[1].version, 2);
  EXPECT_EQ(d->events[1].type_string, "Test.Transacted.v2");
  EXPECT_EQ(d->events[2].name, "ProfileUpdated");

  ASSERT_EQ(d->upcasters.size(), 1u);
  const Upcaster& u = d->upcasters[0];
  EXPECT_EQ(u.event, "Transacted");
  EXPECT_EQ(u.from_version, 1);
  EXPECT_EQ(u.to_version, 2);
  EXPECT_THAT(u.rename, ElementsAre(Pair("amt", "amount")));
  EXPECT_TRUE(u.remove.empty());
  EXPECT_EQ(u.defaults, nlohmann::json({{"currency", "USD"}}));
  EXPECT_EQ(u.set, nlohmann::json::object());

  ASSERT_EQ(d->projections.size(), 2u);
  const Projection& balances = d->projections[0];
  EXPECT_EQ(balances.name, "Balances");
  EXPECT_EQ(balances.key, "user_id");
  EXPECT_EQ(balances.table, "balances");
  EXPECT_EQ(balances.schema, "");
  EXPECT_EQ(balances.database, "default");
  EXPECT_FALSE(balances.cache_backed());
  EXPECT_EQ(balances.cache_prefix, "balances");
  EXPECT_THAT(balances.columns,
              ElementsAre(Pair("user_id", "varchar(255)"), Pair("name", "varchar(255)"),
                          Pair("balance", "double precision")));
  const Projection& directory = d->projections[1];
  EXPECT_EQ(directory.name, "UserDirectory");
  EXPECT_EQ(directory.table, "user_directory");
  EXPECT_EQ(directory.cache_prefix, "user_directory");
  EXPECT_TRUE(directory.columns.empty());

  ASSERT_EQ(d->projectors.size(), 2u);
  const Projector& tp = d->projectors[0];
  EXPECT_EQ(tp.name, "TransactionProjector");
  EXPECT_EQ(tp.projector_for, "Balances");
  EXPECT_THAT(tp.categories, ElementsAre("test::transaction", "test::user"));
  EXPECT_EQ(tp.subscriber, "app.projections.TransactionProjector");
  ASSERT_EQ(tp.handlers.size(), 2u);
  const Handler* registered = tp.FindHandler("Registered");
  ASSERT_NE(registered, nullptr);
  EXPECT_EQ(registered->form, Handler::Form::kAction);
  ASSERT_TRUE(registered->key.parameter.has_value());
  EXPECT_THAT(registered->key.parameter->path, ElementsAre("user_id"));
  ASSERT_EQ(registered->set.size(), 2u);
  EXPECT_EQ(registered->set[0].first, "name");
  EXPECT_EQ(registered->set[0].second.parameter->text, ":name");
  EXPECT_EQ(registered->set[1].first, "balance");
  EXPECT_FALSE(registered->set[1].second.parameter.has_value());
  EXPECT_EQ(registered->set[1].second.literal, nlohmann::json(0));
  EXPECT_FALSE(registered->remove);
  const Handler* transacted = tp.FindHandler("Transacted");
  ASSERT_NE(transacted, nullptr);
  ASSERT_EQ(transacted->insert.size(), 2u);
  EXPECT_EQ(transacted->insert[0].first, "name");
  EXPECT_EQ(transacted->insert[0].second.literal, nlohmann::json(""));
  EXPECT_EQ(transacted->insert[1].second.parameter->text, ":amount");
  ASSERT_EQ(transacted->increment.size(), 1u);
  EXPECT_EQ(transacted->increment[0].first, "balance");
  EXPECT_THAT(transacted->increment[0].second.parameter->path, ElementsAre("amount"));
  EXPECT_EQ(tp.FindHandler("ProfileUpdated"), nullptr);

  const Projector& udp = d->projectors[1];
  EXPECT_THAT(udp.categories, ElementsAre("test::user"));
  EXPECT_FALSE(udp.subscriber.has_value());
  ASSERT_EQ(udp.handlers.size(), 1u);
  EXPECT_EQ(udp.handlers[0].form, Handler::Form::kSql);
  ASSERT_EQ(udp.handlers[0].sql.size(), 1u);
  EXPECT_EQ(udp.handlers[0].sql[0].text,
            "INSERT INTO user_directory (user_id, email, name) VALUES ($1, $2, $3) ON CONFLICT "
            "(user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name");
  ASSERT_EQ(udp.handlers[0].sql[0].parameters.size(), 3u);
  EXPECT_EQ(udp.handlers[0].sql[0].parameters[1].text, ":email");

  // Registry queries.
  EXPECT_EQ(d->FindProjection("Balances"), &d->projections[0]);
  EXPECT_EQ(d->FindProjection("Nope"), nullptr);
  EXPECT_EQ(d->FindAggregate("User"), &d->aggregates[0]);
  EXPECT_EQ(d->FindEvent("Transacted"), &d->events[1]);
  EXPECT_EQ(d->FindDatabase("default"), &d->databases[0]);
  EXPECT_EQ(d->FindCache("default"), &d->caches[0]);
  EXPECT_THAT(d->ProjectorsFor("Balances"), ElementsAre(&d->projectors[0]));
  EXPECT_THAT(d->ProjectorsFor("UserDirectory"), ElementsAre(&d->projectors[1]));
  EXPECT_TRUE(d->ProjectorsFor("Nope").empty());

  Resolution current = d->Resolve("Test.Transacted.v2");
  EXPECT_EQ(current.event, &d->events[1]);
  EXPECT_EQ(current.stored_version, 2);
  EXPECT_TRUE(current.chain.empty());
  Resolution old = d->Resolve("Test.Transacted.v1");
  EXPECT_EQ(old.event, &d->events[1]);
  EXPECT_EQ(old.stored_version, 1);
  EXPECT_THAT(old.chain, ElementsAre(&d->upcasters[0]));
  EXPECT_EQ(d->Resolve("Test.Registered.v2").event, nullptr);
  EXPECT_EQ(d->Resolve("Other.Registered.v1").event, nullptr);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(LoaderTest, BankExampleLoadsWithEnvironmentDefaults) {
  LoadOptions options = Env();
  options.domain_root = PROTEAN_ADMIN_SOURCE_DIR;
  auto d = LoadDomain("examples/bank", options);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "Bank");
  EXPECT_EQ(d->source_file, "examples/bank/domain.toml");
  EXPECT_EQ(d->event_store.database_uri, "postgresql://message_store@localhost:5433/message_store");
  EXPECT_EQ(d->databases[0].database_uri, "postgresql://postgres@localhost:5432/bank");
  EXPECT_THAT(d->aggregates[0].stream_category, "bank::user");
  EXPECT_THAT(d->aggregates[1].stream_category, "bank::transaction");
  EXPECT_EQ(d->FindEvent("Transacted")->type_string, "Bank.Transacted.v2");
  ASSERT_EQ(d->projections.size(), 2u);
  EXPECT_EQ(d->projections[0].name, "Balances");
  EXPECT_FALSE(d->projections[0].columns.empty());
  EXPECT_EQ(d->projections[1].name, "UserDirectory");
  EXPECT_EQ(d->projectors[0].subscriber, "bank.projections.TransactionProjector");
  EXPECT_EQ(d->projectors[1].handlers[0].form, Handler::Form::kSql);

  // Dotted module path and explicit environment values give the same file.
  LoadOptions with_env =
      Env({{"DATABASE_URL", "postgresql://db/x"}, {"MESSAGE_DB_URL", "postgresql://ms/y"}});
  with_env.domain_root = PROTEAN_ADMIN_SOURCE_DIR;
  auto e = LoadDomain("examples.bank.domain", with_env);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->databases[0].database_uri, "postgresql://db/x");
  EXPECT_EQ(e->event_store.database_uri, "postgresql://ms/y");

  // Upcasting a v1 payload of the bank with the resolved chain.
  Resolution r = e->Resolve("Bank.Transacted.v1");
  ASSERT_NE(r.event, nullptr);
  nlohmann::json payload = {{"user_id", "u1"}, {"amt", 12.5}};
  ASSERT_TRUE(ApplyUpcasters(r.chain, payload).ok());
  EXPECT_EQ(payload, nlohmann::json({{"user_id", "u1"}, {"amount", 12.5}, {"currency", "USD"}}));
}

TEST(LoaderTest, DefaultOptionsReadTheProcessEnvironment) {
  ::setenv("PROTEAN_ADMIN_LOADER_TEST_URI", "postgresql://from-process", 1);
  ::setenv("PROTEAN_ENV", "loader_test_env", 1);
  std::string text =
      "[domain]\nname = \"T\"\n[event_store]\ndatabase_uri = "
      "\"${PROTEAN_ADMIN_LOADER_TEST_URI}\"\n[loader_test_env.server.health]\nport = 1234\n";
  auto d = ParseDomain(text, "t.toml", "", LoadOptions());
  ::unsetenv("PROTEAN_ADMIN_LOADER_TEST_URI");
  ::unsetenv("PROTEAN_ENV");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->event_store.database_uri, "postgresql://from-process");
  EXPECT_EQ(d->health.port, 1234);
  EXPECT_FALSE(ParseDomain(text, "t.toml", "", LoadOptions()).ok());  // now unset
}

TEST(LoaderTest, BenchDomainInstancesLoad) {
  std::string text = ReadFile(std::string(PROTEAN_ADMIN_SOURCE_DIR) + "/bench/domain.toml");
  if (text.empty()) GTEST_SKIP() << "bench/domain.toml not present";
  LoadOptions options =
      Env({{"DATABASE_URL", "postgresql://a"}, {"MESSAGE_DB_URL", "postgresql://b"}});
  for (const char* instance : {"action", "sql", "lua"}) {
    auto d = ParseDomain(text, "bench/domain.toml", instance, options);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->projections[0].name, "Balances");
  }
}

}  // namespace
}  // namespace protean_admin::domain
