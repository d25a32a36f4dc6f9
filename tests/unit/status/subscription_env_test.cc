// Subscription types in domain.toml (docs/domain-toml.md "Subscription type") and the note
// carried by URIs built from a ${VAR|default} (docs/domain-toml.md "${VAR} substitution").

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "domain/env_substitution.h"
#include "domain/loader.h"
#include "tests/harness/load_env.h"

namespace protean_admin::domain {
namespace {

using ::testing::HasSubstr;

LoadOptions Env(std::map<std::string, std::string> vars = {}) {
  return testing::EnvOptions(std::move(vars));
}

// `server` goes after the [event_store] table, `projector_extra` into the first projector.
std::string Toml(const std::string& server, const std::string& projector_extra = "") {
  return absl::StrCat(R"toml([domain]
name = "Test"

[event_store]
database_uri = "${MESSAGE_DB_URL|postgresql://localhost:5433/message_store}"

[databases.default]
database_uri = "postgresql://${DB_HOST|localhost}:${DB_PORT|5432}/app"

[caches.default]
URI = "${REDIS_URL|redis://127.0.0.1:6379/2}"
)toml",
                      server, R"toml(
[aggregates.User]
[events.Registered]
aggregate = "User"
[projections.Balances]
key = "user_id"
[projectors.BalancesProjector]
projector_for = "Balances"
aggregates = ["User"]
subscriber = "app.BalancesProjector"
)toml",
                      projector_extra, R"toml(
[projectors.OtherProjector]
projector_for = "Balances"
aggregates = ["User"]
)toml");
}

TEST(SubscriptionTypeTest, DefaultsToEventStore) {
  auto d = ParseDomain(Toml(""), "domain.toml", "", Env());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->projectors[0].subscription_type, SubscriptionType::kEventStore);
  EXPECT_EQ(d->projectors[1].subscription_type, SubscriptionType::kEventStore);
}

TEST(SubscriptionTypeTest, ServerDefaultAppliesToEveryProjector) {
  auto d = ParseDomain(Toml("[server]\ndefault_subscription_type = \"stream\"\n"), "domain.toml",
                       "", Env());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->projectors[0].subscription_type, SubscriptionType::kStream);
  EXPECT_EQ(d->projectors[1].subscription_type, SubscriptionType::kStream);
}

TEST(SubscriptionTypeTest, HandlerSettingAndOwnKeyWinOverTheDefault) {
  auto d = ParseDomain(Toml("[server]\ndefault_subscription_type = \"stream\"\n"
                            "messages_per_tick = 100\n"
                            "[server.subscriptions.OtherProjector]\n"
                            "subscription_type = \"event_store\"\nprofile = \"projection\"\n",
                            "subscription_type = \"event_store\"\n"),
                       "domain.toml", "", Env());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->projectors[0].subscription_type, SubscriptionType::kEventStore);
  EXPECT_EQ(d->projectors[1].subscription_type, SubscriptionType::kEventStore);

  d = ParseDomain(Toml("", "subscription_type = \"stream\"\n"), "domain.toml", "", Env());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->projectors[0].subscription_type, SubscriptionType::kStream);
  EXPECT_EQ(d->projectors[1].subscription_type, SubscriptionType::kEventStore);
}

TEST(SubscriptionTypeTest, UnknownValuesAreErrorsNamingKeyAndPlace) {
  auto d = ParseDomain(Toml("[server]\ndefault_subscription_type = \"redis\"\n"), "domain.toml", "",
                       Env());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("domain.toml:13"));
  EXPECT_THAT(d.status().message(), HasSubstr("server.default_subscription_type"));
  EXPECT_THAT(d.status().message(),
              HasSubstr("unknown subscription type \"redis\": expected \"event_store\" or "
                        "\"stream\""));

  d = ParseDomain(Toml("", "subscription_type = 1\n"), "domain.toml", "", Env());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("projectors.BalancesProjector.subscription_type"));

  d = ParseDomain(Toml("[server.subscriptions.OtherProjector]\nsubscription_type = \"x\"\n"),
                  "domain.toml", "", Env());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(),
              HasSubstr("server.subscriptions.OtherProjector.subscription_type"));
}

TEST(UriNoteTest, UriFromADefaultCarriesTheNote) {
  auto d = ParseDomain(Toml(""), "domain.toml", "", Env({{"DB_HOST", "db"}}));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->event_store.uri_note,
            "from the default in domain.toml:5; MESSAGE_DB_URL is not set in protean-admind's "
            "environment");
  EXPECT_EQ(d->databases[0].database_uri, "postgresql://db:5432/app");
  EXPECT_EQ(d->databases[0].uri_note,
            "from the default in domain.toml:8; DB_PORT is not set in protean-admind's "
            "environment");
  EXPECT_EQ(d->caches[0].uri_note,
            "from the default in domain.toml:11; REDIS_URL is not set in protean-admind's "
            "environment");
}

TEST(UriNoteTest, UriFromTheEnvironmentHasNoNote) {
  auto d = ParseDomain(Toml(""), "domain.toml", "",
                       Env({{"MESSAGE_DB_URL", "postgresql://es/x"},
                            {"DB_HOST", "h"},
                            {"DB_PORT", "1"},
                            {"REDIS_URL", "redis://r:1/0"}}));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->event_store.database_uri, "postgresql://es/x");
  EXPECT_EQ(d->event_store.uri_note, "");
  EXPECT_EQ(d->databases[0].uri_note, "");
  EXPECT_EQ(d->caches[0].uri_note, "");
}

TEST(UriNoteTest, OneWordingForOneOrSeveralVariables) {
  EXPECT_EQ(DefaultedValueNote("domain.toml:12", {"MESSAGE_DB_URL"}),
            "from the default in domain.toml:12; MESSAGE_DB_URL is not set in protean-admind's "
            "environment");
  EXPECT_EQ(DefaultedValueNote("d.toml:3", {"A", "B"}),
            "from the default in d.toml:3; A, B are not set in protean-admind's environment");
  EXPECT_EQ(DefaultedValueNote("d.toml:3", {}), "");
  absl::Status s = WithUriNote(absl::UnavailableError("cannot connect to PostgreSQL at x"),
                               DefaultedValueNote("domain.toml:12", {"MESSAGE_DB_URL"}));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(),
            "cannot connect to PostgreSQL at x (the URI is from the default in domain.toml:12; "
            "MESSAGE_DB_URL is not set in protean-admind's environment)");
  EXPECT_EQ(WithUriNote(absl::UnavailableError("e"), "").message(), "e");
  EXPECT_TRUE(WithUriNote(absl::OkStatus(), "note").ok());
}

}  // namespace
}  // namespace protean_admin::domain
