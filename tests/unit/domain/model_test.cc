#include "domain/model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace protean_admin::domain {
namespace {

using ::testing::ElementsAre;

Domain Sample() {
  Domain d;
  d.name = d.camel_case_name = "Test";
  d.normalized_name = "test";
  d.aggregates = {{"User", "test::user"}, {"Transaction", "test::transaction"}};
  d.events = {{"Registered", "User", 1, "Test.Registered.v1"},
              {"Transacted", "Transaction", 3, "Test.Transacted.v3"},
              {"Renamed", "User", 2, "Test.Renamed.v2"}};
  Upcaster a{"Transacted", 2, 3, {}, {}, nlohmann::json::object(), nlohmann::json::object()};
  Upcaster b{"Transacted", 1, 2, {}, {}, nlohmann::json::object(), nlohmann::json::object()};
  d.upcasters = {a, b};
  return d;
}

const char* const kTypeStrings[] = {"Test.Registered.v1",
                                    "Test.Registered.v2",
                                    "Test.Registered.v0",
                                    "Test.Transacted.v1",
                                    "Test.Transacted.v2",
                                    "Test.Transacted.v3",
                                    "Test.Transacted.v4",
                                    "Test.Transacted.v02",
                                    "Test.Transacted.v",
                                    "Test.Transacted.2",
                                    "Test.Transacted.vx",
                                    "Test.Renamed.v1",
                                    "Test.Renamed.v2",
                                    "Other.Registered.v1",
                                    "Registered",
                                    "",
                                    "SNAPSHOT",
                                    "Test.Transacted.v1 ",
                                    ".v1",
                                    "Test.Transacted.v-1"};

TEST(ResolveTest, IndexedAndScannedResolutionAgree) {
  Domain scanned = Sample();  // no index: the scan
  Domain indexed = Sample();
  indexed.BuildTypeIndex();
  ASSERT_FALSE(indexed.type_index.empty());
  ASSERT_TRUE(scanned.type_index.empty());
  for (const char* type : kTypeStrings) {
    Resolution s = scanned.Resolve(type);
    Resolution i = indexed.Resolve(type);
    ASSERT_EQ(s.event == nullptr, i.event == nullptr) << type;
    if (s.event == nullptr) continue;
    EXPECT_EQ(s.event - scanned.events.data(), i.event - indexed.events.data()) << type;
    EXPECT_EQ(s.stored_version, i.stored_version) << type;
    ASSERT_EQ(s.chain.size(), i.chain.size()) << type;
    for (size_t k = 0; k < s.chain.size(); ++k) {
      EXPECT_EQ(s.chain[k] - scanned.upcasters.data(), i.chain[k] - indexed.upcasters.data());
    }
  }
}

TEST(ResolveTest, Resolutions) {
  Domain d = Sample();
  d.BuildTypeIndex();
  Resolution r = d.Resolve("Test.Transacted.v1");
  ASSERT_EQ(r.event, &d.events[1]);
  EXPECT_EQ(r.stored_version, 1);
  EXPECT_THAT(r.chain, ElementsAre(&d.upcasters[1], &d.upcasters[0]));
  r = d.Resolve("Test.Transacted.v02");  // spelled with a leading zero: same as v2
  ASSERT_EQ(r.event, &d.events[1]);
  EXPECT_EQ(r.stored_version, 2);
  EXPECT_THAT(r.chain, ElementsAre(&d.upcasters[0]));
  r = d.Resolve("Test.Transacted.v3");
  EXPECT_EQ(r.event, &d.events[1]);
  EXPECT_TRUE(r.chain.empty());
  // Unresolvable: unknown type, newer than current, old version without a chain.
  EXPECT_EQ(d.Resolve("Test.Unknown.v1").event, nullptr);
  EXPECT_EQ(d.Resolve("Test.Transacted.v4").event, nullptr);
  EXPECT_EQ(d.Resolve("Test.Renamed.v1").event, nullptr);
  EXPECT_EQ(d.Resolve("Test.Renamed.v1").chain.size(), 0u);
}

TEST(ResolveTest, CopiesKeepAValidIndex) {
  Domain original = Sample();
  original.BuildTypeIndex();
  Domain copy = original;
  Resolution r = copy.Resolve("Test.Transacted.v1");
  ASSERT_NE(r.event, nullptr);
  EXPECT_EQ(r.event, &copy.events[1]);
  EXPECT_EQ(r.chain[0], &copy.upcasters[1]);
  Domain moved = std::move(copy);
  EXPECT_EQ(moved.Resolve("Test.Registered.v1").event, &moved.events[0]);
}

TEST(ModelTest, FindAndProjectorsFor) {
  Domain d = Sample();
  d.projections = {
      {"Balances", "user_id", "balances", "", "default", std::nullopt, {}, "balances"}};
  Projector p1;
  p1.name = "A";
  p1.projector_for = "Balances";
  Projector p2;
  p2.name = "B";
  p2.projector_for = "Other";
  Projector p3;
  p3.name = "C";
  p3.projector_for = "Balances";
  Handler h;
  h.event = "Registered";
  p3.handlers = {h};
  d.projectors = {p1, p2, p3};
  EXPECT_THAT(d.ProjectorsFor("Balances"), ElementsAre(&d.projectors[0], &d.projectors[2]));
  EXPECT_EQ(d.projectors[2].FindHandler("Registered"), &d.projectors[2].handlers[0]);
  EXPECT_EQ(d.projectors[2].FindHandler("Transacted"), nullptr);
  EXPECT_EQ(d.FindEvent("Renamed"), &d.events[2]);
  EXPECT_EQ(d.FindAggregate("Nope"), nullptr);
}

}  // namespace
}  // namespace protean_admin::domain
