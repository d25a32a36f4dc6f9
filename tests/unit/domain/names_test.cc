#include "domain/names.h"

#include <gtest/gtest.h>

namespace protean_admin::domain {
namespace {

TEST(NamesTest, NormalizedNameVectorsFromProtean) {
  EXPECT_EQ(NormalizedName("Test"), "test");
  EXPECT_EQ(NormalizedName("Foo 20"), "foo_20");
  EXPECT_EQ(NormalizedName("FooBar"), "foobar");
  EXPECT_EQ(NormalizedName("Foo-Bar"), "foo_bar");
  EXPECT_EQ(NormalizedName("Donald E. Knuth"), "donald_e_knuth");
  EXPECT_EQ(NormalizedName("My Domain 1.0"), "my_domain_1_0");
}

TEST(NamesTest, NormalizedNameTrimsAndTransliterates) {
  EXPECT_EQ(NormalizedName("  --Bank--  "), "bank");
  EXPECT_EQ(NormalizedName("Café Crème"), "cafe_creme");
  EXPECT_EQ(NormalizedName("Straße"), "strasse");
  EXPECT_EQ(NormalizedName("a\xE2\x82\xAC"
                           "b"),
            "a_b");                         // euro sign: a separator
  EXPECT_EQ(NormalizedName("x\xC3"), "x");  // truncated UTF-8
  EXPECT_EQ(NormalizedName("!!!"), "");
}

TEST(NamesTest, CamelCaseNameVectorsFromProtean) {
  EXPECT_EQ(CamelCaseName("Test"), "Test");
  EXPECT_EQ(CamelCaseName("my_domain"), "MyDomain");
  EXPECT_EQ(CamelCaseName("Donald E. Knuth"), "DonaldEKnuth");
  EXPECT_EQ(CamelCaseName("My Domain 1.0"), "MyDomain10");
  EXPECT_EQ(CamelCaseName("TEST7"), "Test7");
}

TEST(NamesTest, CamelCaseNameFollowsPythonTitle) {
  EXPECT_EQ(CamelCaseName("Bank"), "Bank");
  EXPECT_EQ(CamelCaseName("FooBar"), "Foobar");  // str.title() lower-cases inner capitals
  EXPECT_EQ(CamelCaseName("v2beta"), "V2Beta");  // a letter after a digit starts a word
  EXPECT_EQ(CamelCaseName("café"), "Cafe");
}

TEST(NamesTest, UnderscoreVectorsFromProtean) {
  EXPECT_EQ(Underscore("UserDirectory"), "user_directory");
  EXPECT_EQ(Underscore("HTTPRequest"), "http_request");
  EXPECT_EQ(Underscore("OrderSummaryV2"), "order_summary_v2");
  EXPECT_EQ(Underscore("Balances"), "balances");
  EXPECT_EQ(Underscore("CachedView"), "cached_view");
}

TEST(NamesTest, UnderscoreLikeInflection) {
  EXPECT_EQ(Underscore("User"), "user");
  EXPECT_EQ(Underscore("ABC"), "abc");
  EXPECT_EQ(Underscore("Foo-Bar"), "foo_bar");
  EXPECT_EQ(Underscore("Order2Go"), "order2_go");
  EXPECT_EQ(Underscore("already_snake"), "already_snake");
  EXPECT_EQ(Underscore("IOError"), "io_error");
  EXPECT_EQ(Underscore(""), "");
}

TEST(NamesTest, StreamCategory) {
  EXPECT_EQ(StreamCategory(NormalizedName("Test"), Underscore("User")), "test::user");
  EXPECT_EQ(StreamCategory("my_domain_1_0", "order_summary_v2"), "my_domain_1_0::order_summary_v2");
}

TEST(NamesTest, TypeString) {
  EXPECT_EQ(TypeString(CamelCaseName("Test"), "Registered", 1), "Test.Registered.v1");
  EXPECT_EQ(TypeString(CamelCaseName("My Domain 1.0"), "Transacted", 12),
            "MyDomain10.Transacted.v12");
}

}  // namespace
}  // namespace protean_admin::domain
