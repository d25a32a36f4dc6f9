// RedisUri::Parse, CacheKey, EscapeGlob and CacheLockText: no server needed.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/advisory_lock.h"
#include "storage/redis_client.h"

namespace protean_admin::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RedisUri ParseOk(std::string_view text) {
  absl::StatusOr<RedisUri> uri = RedisUri::Parse(text);
  EXPECT_TRUE(uri.ok()) << text << ": " << uri.status();
  return uri.ok() ? *uri : RedisUri{};
}

std::string ParseError(std::string_view text) {
  absl::StatusOr<RedisUri> uri = RedisUri::Parse(text);
  EXPECT_FALSE(uri.ok()) << text << " parsed, host " << (uri.ok() ? uri->host : "");
  if (uri.ok()) return "";
  EXPECT_EQ(uri.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(uri.status().message());
}

TEST(RedisUriTest, HostOnlyGetsDefaults) {
  RedisUri uri = ParseOk("redis://cache.internal");
  EXPECT_EQ(uri.host, "cache.internal");
  EXPECT_EQ(uri.port, 6379);
  EXPECT_EQ(uri.db, 0);
  EXPECT_EQ(uri.user, "");
  EXPECT_EQ(uri.password, "");
  EXPECT_EQ(uri.Describe(), "cache.internal:6379/0");
}

TEST(RedisUriTest, HostPortAndDb) {
  RedisUri uri = ParseOk("redis://127.0.0.1:6380/2");
  EXPECT_EQ(uri.host, "127.0.0.1");
  EXPECT_EQ(uri.port, 6380);
  EXPECT_EQ(uri.db, 2);
  EXPECT_EQ(uri.Describe(), "127.0.0.1:6380/2");

  EXPECT_EQ(ParseOk("redis://h/15").db, 15);
  EXPECT_EQ(ParseOk("redis://h:1/").db, 0);  // empty path: db 0
  EXPECT_EQ(ParseOk("redis://h:1/").port, 1);
  EXPECT_EQ(ParseOk("redis://h:65535").port, 65535);
  EXPECT_EQ(ParseOk("REDIS://h").host, "h");  // the scheme is case-insensitive
}

TEST(RedisUriTest, PasswordOnly) {
  RedisUri uri = ParseOk("redis://:s3cret@localhost:6379/1");
  EXPECT_EQ(uri.user, "");
  EXPECT_EQ(uri.password, "s3cret");
  EXPECT_EQ(uri.host, "localhost");
  EXPECT_EQ(uri.db, 1);
  EXPECT_THAT(uri.Describe(), Not(HasSubstr("s3cret")));
}

TEST(RedisUriTest, UserAndPassword) {
  RedisUri uri = ParseOk("redis://alice:wonder@10.0.0.5:7000/3");
  EXPECT_EQ(uri.user, "alice");
  EXPECT_EQ(uri.password, "wonder");
  EXPECT_EQ(uri.host, "10.0.0.5");
  EXPECT_EQ(uri.port, 7000);
  EXPECT_EQ(uri.db, 3);
}

TEST(RedisUriTest, PercentEncodedCredentials) {
  RedisUri uri = ParseOk("redis://al%69ce:p%40ss%3Aw%2Frd%25@h");
  EXPECT_EQ(uri.user, "alice");
  EXPECT_EQ(uri.password, "p@ss:w/rd%");
  EXPECT_EQ(uri.host, "h");
}

TEST(RedisUriTest, UnencodedAtInPasswordUsesTheLastAt) {
  RedisUri uri = ParseOk("redis://:p@ss@h:1/4");
  EXPECT_EQ(uri.password, "p@ss");
  EXPECT_EQ(uri.host, "h");
  EXPECT_EQ(uri.port, 1);
  EXPECT_EQ(uri.db, 4);
}

TEST(RedisUriTest, BracketedIpv6) {
  RedisUri uri = ParseOk("redis://[::1]:6390/5");
  EXPECT_EQ(uri.host, "::1");
  EXPECT_EQ(uri.port, 6390);
  EXPECT_EQ(uri.db, 5);
  EXPECT_EQ(uri.Describe(), "[::1]:6390/5");
  EXPECT_EQ(ParseOk("redis://[fe80::1]").port, 6379);
}

TEST(RedisUriTest, InvalidFormsNameTheProblem) {
  EXPECT_THAT(ParseError(""), HasSubstr("expected redis://"));
  EXPECT_THAT(ParseError("localhost:6379"), HasSubstr("expected redis://"));
  EXPECT_THAT(ParseError("http://h"), HasSubstr("unsupported scheme 'http'"));
  EXPECT_THAT(ParseError("rediss://h"), HasSubstr("TLS"));
  EXPECT_THAT(ParseError("redis://"), HasSubstr("missing host"));
  EXPECT_THAT(ParseError("redis://:6379/0"), HasSubstr("missing host"));
  EXPECT_THAT(ParseError("redis://:pw@/0"), HasSubstr("missing host"));
  EXPECT_THAT(ParseError("redis://h:/0"), HasSubstr("invalid port ''"));
  EXPECT_THAT(ParseError("redis://h:0"), HasSubstr("invalid port '0'"));
  EXPECT_THAT(ParseError("redis://h:65536"), HasSubstr("invalid port '65536'"));
  EXPECT_THAT(ParseError("redis://h:-1"), HasSubstr("invalid port '-1'"));
  EXPECT_THAT(ParseError("redis://h:12ab"), HasSubstr("invalid port '12ab'"));
  EXPECT_THAT(ParseError("redis://h/x"), HasSubstr("invalid database 'x'"));
  EXPECT_THAT(ParseError("redis://h/-1"), HasSubstr("invalid database '-1'"));
  EXPECT_THAT(ParseError("redis://h/1/2"), HasSubstr("invalid database '1/2'"));
  EXPECT_THAT(ParseError("redis://h/99999999999"), HasSubstr("invalid database"));
  EXPECT_THAT(ParseError("redis://h/0?timeout=1"), HasSubstr("query parameters"));
  EXPECT_THAT(ParseError("redis://::1:6379"), HasSubstr("brackets"));
  EXPECT_THAT(ParseError("redis://[::1"), HasSubstr("unterminated '['"));
  EXPECT_THAT(ParseError("redis://[::1]x"), HasSubstr("after ']'"));
  EXPECT_THAT(ParseError("redis://alice@h"), HasSubstr("user:password@"));
  EXPECT_THAT(ParseError("redis://alice:@h"), HasSubstr("empty password"));
  EXPECT_THAT(ParseError("redis://:p%zzw@h"), HasSubstr("percent-encoding in the password"));
  EXPECT_THAT(ParseError("redis://:pw%4@h"), HasSubstr("percent-encoding in the password"));
  EXPECT_THAT(ParseError("redis://a%g1:pw@h"), HasSubstr("percent-encoding in the user"));
}

TEST(RedisUriTest, ErrorsNeverShowThePassword) {
  for (std::string_view bad :
       {"redis://:hunter2@h:bad", "redis://u:hunter2@h/x", "redis://:hunter2@", "http://:hunter2@h",
        "redis://:hunter2@h?x=1", "redis://:hunter2%zz@h", "redis//:hunter2@h"}) {
    EXPECT_THAT(ParseError(bad), Not(HasSubstr("hunter2"))) << bad;
  }
}

TEST(CacheKeyTest, JoinsPrefixAndKeyWithThreeColons) {
  EXPECT_EQ(CacheKey("balances", "user-1"), "balances:::user-1");
  EXPECT_EQ(CacheKey("cached_view", ""), "cached_view:::");
  EXPECT_EQ(CacheKey("p", "a:::b"), "p:::a:::b");
  EXPECT_EQ(CacheKey(std::string_view("a\0b", 3), "k"), std::string("a\0b:::k", 7));
}

TEST(EscapeGlobTest, EscapesEveryMetacharacter) {
  EXPECT_EQ(EscapeGlob("cached_view"), "cached_view");
  EXPECT_EQ(EscapeGlob("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f");
  EXPECT_EQ(EscapeGlob(""), "");
  EXPECT_EQ(EscapeGlob("^-:!"), "^-:!");  // special only inside [...], which is escaped
}

// One Redis instance and prefix is one lock text, whatever URI spelling reaches it; the
// credentials are not part of it.
TEST(CacheLockTextTest, OneTextPerInstanceAndPrefix) {
  absl::StatusOr<std::string> text = CacheLockText("redis://Cache.Internal", "balances");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "protean-admin:redis:cache.internal:6379/0:balances");
  EXPECT_EQ(CacheLockText("redis://:s3cret@cache.internal:6379/0", "balances").value_or(""), *text);
  EXPECT_NE(CacheLockText("redis://cache.internal/1", "balances").value_or(""), *text);
  EXPECT_NE(CacheLockText("redis://cache.internal:6380", "balances").value_or(""), *text);
  EXPECT_NE(CacheLockText("redis://cache.internal", "ledger").value_or(""), *text);
  absl::StatusOr<std::string> bad = CacheLockText("http://cache.internal", "balances");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
}

}  // namespace
}  // namespace protean_admin::storage
