#include "domain/upcasters.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "domain/loader.h"

namespace protean_admin::domain {
namespace {

using ::testing::ElementsAre;
using json = nlohmann::json;

std::string Msg(const absl::Status& status) { return std::string(status.message()); }

Domain TestDomain(int current_version) {
  Domain d;
  d.name = d.camel_case_name = "Test";
  d.normalized_name = "test";
  d.aggregates.push_back({"Transaction", "test::transaction"});
  d.events.push_back({"Transacted", "Transaction", current_version,
                      "Test.Transacted.v" + std::to_string(current_version)});
  d.events.push_back({"Registered", "Transaction", 1, "Test.Registered.v1"});
  return d;
}

Upcaster Step(int from, int to) {
  Upcaster u;
  u.event = "Transacted";
  u.from_version = from;
  u.to_version = to;
  return u;
}

// docs/protean-compatibility.md §7 item 14: v1 {amount} -> v2 {total, currency: "USD"}.
Upcaster AmountToTotal() {
  Upcaster u = Step(1, 2);
  u.rename = {{"amount", "total"}};
  u.defaults = {{"currency", "USD"}};
  return u;
}

TEST(ApplyUpcasterTest, Scenario14V1ToV2) {
  Domain d = TestDomain(2);
  d.upcasters = {AmountToTotal()};
  d.BuildTypeIndex();
  ASSERT_TRUE(ValidateUpcasters(d).ok());

  Resolution v1 = d.Resolve("Test.Transacted.v1");
  ASSERT_EQ(v1.event, &d.events[0]);
  EXPECT_EQ(v1.stored_version, 1);
  json payload = {{"user_id", "u1"}, {"amount", 100.0}};
  ASSERT_TRUE(ApplyUpcasters(v1.chain, payload).ok());
  EXPECT_EQ(payload, json({{"user_id", "u1"}, {"total", 100.0}, {"currency", "USD"}}));

  // An event at the current version is untouched.
  Resolution v2 = d.Resolve("Test.Transacted.v2");
  ASSERT_EQ(v2.event, &d.events[0]);
  EXPECT_TRUE(v2.chain.empty());
  json current = {{"user_id", "u1"}, {"total", 5}, {"currency", "EUR"}, {"amount", 1}};
  json before = current;
  ASSERT_TRUE(ApplyUpcasters(v2.chain, current).ok());
  EXPECT_EQ(current, before);
}

TEST(ApplyUpcasterTest, Scenario14MixedStreamInOrder) {
  Domain d = TestDomain(2);
  d.upcasters = {AmountToTotal()};
  d.BuildTypeIndex();
  std::vector<std::pair<std::string, json>> stream = {
      {"Test.Transacted.v1", {{"amount", 1}}},
      {"Test.Transacted.v2", {{"total", 2}, {"currency", "EUR"}}},
      {"Test.Transacted.v1", {{"amount", 3}}},
  };
  std::vector<json> dispatched;
  for (auto& [type, payload] : stream) {
    Resolution r = d.Resolve(type);
    ASSERT_NE(r.event, nullptr) << type;
    ASSERT_TRUE(ApplyUpcasters(r.chain, payload).ok());
    dispatched.push_back(payload);
  }
  EXPECT_THAT(dispatched, ElementsAre(json({{"total", 1}, {"currency", "USD"}}),
                                      json({{"total", 2}, {"currency", "EUR"}}),
                                      json({{"total", 3}, {"currency", "USD"}})));
}

TEST(ApplyUpcasterTest, Scenario14ChainOneTwoThreeAppliesBothSteps) {
  Domain d = TestDomain(3);
  Upcaster second = Step(2, 3);
  second.rename = {{"total", "amount_total"}};
  second.set = {{"schema", 3}};
  d.upcasters = {second, AmountToTotal()};  // declaration order does not matter
  d.BuildTypeIndex();
  ASSERT_TRUE(ValidateUpcasters(d).ok());
  Resolution v1 = d.Resolve("Test.Transacted.v1");
  ASSERT_EQ(v1.chain.size(), 2u);
  EXPECT_EQ(v1.chain[0]->from_version, 1);
  EXPECT_EQ(v1.chain[1]->from_version, 2);
  json payload = {{"amount", 7}};
  ASSERT_TRUE(ApplyUpcasters(v1.chain, payload).ok());
  EXPECT_EQ(payload, json({{"amount_total", 7}, {"currency", "USD"}, {"schema", 3}}));
  Resolution v2 = d.Resolve("Test.Transacted.v2");
  ASSERT_EQ(v2.chain.size(), 1u);
  EXPECT_EQ(v2.chain[0]->from_version, 2);
}

TEST(ApplyUpcasterTest, OperationsInOrderRenameRemoveDefaultsSet) {
  Upcaster u = Step(1, 2);
  u.rename = {{"a", "b"}, {"missing", "never"}};
  u.remove = {"junk", "b"};  // remove sees the renamed field
  u.defaults = {{"c", 1}, {"d", "default"}};
  u.set = {{"d", "set wins"}, {"e", nullptr}};
  json payload = {{"a", 1}, {"junk", true}, {"c", 5}};
  ASSERT_TRUE(ApplyUpcaster(u, payload).ok());
  EXPECT_EQ(payload, json({{"c", 5}, {"d", "set wins"}, {"e", nullptr}}));

  Upcaster overwrite = Step(1, 2);
  overwrite.rename = {{"old", "new"}};
  json p2 = {{"old", 1}, {"new", 2}};
  ASSERT_TRUE(ApplyUpcaster(overwrite, p2).ok());
  EXPECT_EQ(p2, json({{"new", 1}}));

  // Defaults apply only where absent: a null value is present.
  Upcaster defaults = Step(1, 2);
  defaults.defaults = {{"x", 1}};
  json p3 = {{"x", nullptr}};
  ASSERT_TRUE(ApplyUpcaster(defaults, p3).ok());
  EXPECT_EQ(p3, json({{"x", nullptr}}));
}

TEST(ApplyUpcasterTest, NonObjectPayloadIsAnError) {
  json payload = json::array({1, 2});
  absl::Status status = ApplyUpcasters({}, payload);
  EXPECT_TRUE(status.ok());  // no steps: untouched
  Upcaster u = Step(1, 2);
  std::vector<const Upcaster*> chain = {&u};
  status = ApplyUpcasters(chain, payload);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Msg(status), "cannot upcast Transacted v1: the payload is not a JSON object");
}

TEST(ValidateUpcastersTest, ProteanMessages) {
  Domain d = TestDomain(3);
  d.upcasters = {Step(1, 2), Step(2, 3)};
  EXPECT_TRUE(ValidateUpcasters(d).ok());

  d.upcasters = {Step(1, 2), Step(1, 3), Step(2, 3)};
  EXPECT_EQ(Msg(ValidateUpcasters(d)),
            "Duplicate upcaster for `Test.Transacted` from version `v1`: upcasters[0] (→ v2) "
            "and upcasters[1] (→ v3)");

  d.upcasters = {Step(1, 2), Step(2, 1)};
  EXPECT_EQ(Msg(ValidateUpcasters(d)),
            "Upcaster chain for `Test.Transacted` does not converge to a single current "
            "version. Terminal versions found: []");
  d.upcasters = {Step(1, 1)};
  EXPECT_THAT(Msg(ValidateUpcasters(d)), ::testing::HasSubstr("does not converge"));

  d.upcasters = {Step(1, 3), Step(2, 4)};
  EXPECT_EQ(Msg(ValidateUpcasters(d)),
            "Upcaster chain for `Test.Transacted` does not converge to a single current "
            "version. Terminal versions found: ['v3', 'v4']");

  d.upcasters = {Step(1, 2), Step(2, 4)};
  EXPECT_EQ(Msg(ValidateUpcasters(d)),
            "Upcaster chain for `Test.Transacted` targets version `v4`, but no event is "
            "registered with type string `Test.Transacted.v4`");

  Domain d4 = TestDomain(4);
  d4.upcasters = {Step(1, 2), Step(2, 1), Step(3, 4)};
  EXPECT_EQ(Msg(ValidateUpcasters(d4)),
            "Cycle detected in upcaster chain for `Test.Transacted` at version `v1`");

  d.upcasters = {Step(0, 3)};
  EXPECT_EQ(Msg(ValidateUpcasters(d)),
            "Invalid from_version 0 for event `Test.Transacted`: must be >= 1");
  d.upcasters = {Step(1, -1)};
  EXPECT_EQ(Msg(ValidateUpcasters(d)),
            "Invalid to_version -1 for event `Test.Transacted`: must be >= 1");

  d.upcasters = {Step(1, 3)};
  d.upcasters[0].event = "Ghost";
  EXPECT_EQ(Msg(ValidateUpcasters(d)), "Upcaster for unknown event `Ghost`");
  EXPECT_EQ(ValidateUpcasters(d).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ValidateUpcastersTest, ChainsArePerEvent) {
  Domain d = TestDomain(2);
  Upcaster other = Step(1, 2);
  other.event = "Registered";  // Registered is at v1: its chain targets v2, which no event has
  d.upcasters = {Step(1, 2), other};
  EXPECT_EQ(Msg(ValidateUpcasters(d)),
            "Upcaster chain for `Test.Registered` targets version `v2`, but no event is "
            "registered with type string `Test.Registered.v2`");
}

}  // namespace
}  // namespace protean_admin::domain
