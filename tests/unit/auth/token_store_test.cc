#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "server/service/auth.h"
#include "transport/client_credentials.h"

namespace protean_admin::service {
namespace {

using transport::LoadClientToken;

constexpr char kAlice[] = "alice-token-0123456789";
constexpr char kCi[] = "ci:token:with:colons-xyz";

class TempFile {
 public:
  TempFile() {
    char name[] = "/tmp/protean-admin-tokens-XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = name;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  void Write(const std::string& content) const {
    std::ofstream out(path_, std::ios::trunc);
    out << content;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ParseTokenFileTest, AcceptsCommentsBlankLinesAndColonsInTokens) {
  auto table = ParseTokenFile(
      "# tokens\n\n  alice : alice-token-0123456789  \r\nci:ci:token:with:colons-xyz\n", "t");
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->entries.size(), 2u);
  EXPECT_EQ(table->entries[0].name, "alice");
  EXPECT_EQ(table->entries[1].name, "ci");
}

TEST(ParseTokenFileTest, RejectsBadLinesWithFileAndLine) {
  struct Case {
    std::string content;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"alice-token-0123456789\n", "f.tokens:1: expected name:token"},
      {"# c\nbad name:alice-token-0123456789\n", "f.tokens:2: invalid token name"},
      {":alice-token-0123456789\n", "f.tokens:1: invalid token name"},
      {"alice:\n", "f.tokens:1: empty token for 'alice'"},
      {"alice:tiny1\n", "f.tokens:1: token for 'alice' is shorter than 16"},
      {"alice:has a blank in the token\n", "f.tokens:1: token for 'alice' contains blanks"},
      {"a:alice-token-0123456789\na:other-token-0123456789\n",
       "f.tokens:2: duplicate token name 'a'"},
      {"a:alice-token-0123456789\n\nb:alice-token-0123456789\n",
       "f.tokens:3: token for 'b' is the same as an earlier one"},
  };
  for (const Case& c : cases) {
    auto table = ParseTokenFile(c.content, "f.tokens");
    ASSERT_FALSE(table.ok()) << c.content;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(table.status().message());
    EXPECT_EQ(message.rfind(c.expected, 0), 0u) << message;
    // The token text never appears in the message.
    EXPECT_EQ(message.find("0123456789"), std::string::npos) << message;
    EXPECT_EQ(message.find("tiny1"), std::string::npos) << message;
  }
}

// A file without entries is well formed: it holds no tokens. Only a store's first load
// refuses it.
TEST(ParseTokenFileTest, NoEntriesIsAnEmptyTableButNoStore) {
  for (const std::string content : {"", "\n", "# only comments\n\n  \t\n"}) {
    auto table = ParseTokenFile(content, "f.tokens");
    ASSERT_TRUE(table.ok()) << table.status();
    EXPECT_TRUE(table->entries.empty());
    auto store = TokenStore::FromContent(content);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(store.status().message()).rfind("<memory>: no tokens", 0), 0u)
        << store.status();
  }
  TempFile file;
  file.Write("# nobody yet\n");
  auto store = TokenStore::Load(file.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(std::string(store.status().message()), file.path() +
                                                       ": no tokens (expected "
                                                       "name:token lines)");
}

TEST(TokenStoreTest, AuthenticatesBearerTokens) {
  auto store = TokenStore::FromContent(std::string("alice:") + kAlice + "\nci:" + kCi + "\n");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->size(), 2u);

  auto name = (*store)->Authenticate(std::string("Bearer ") + kAlice);
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "alice");
  name = (*store)->Authenticate(std::string("bearer ") + kCi);
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "ci");
}

TEST(TokenStoreTest, RejectsMissingMalformedAndWrongTokensWithoutEchoingThem) {
  auto store = TokenStore::FromContent(std::string("alice:") + kAlice + "\n");
  ASSERT_TRUE(store.ok());
  const std::vector<std::string> bad = {
      "",
      "Bearer ",
      "Basic YWxpY2U6cGFzcw==",
      kAlice,                                        // no scheme
      std::string("Bearer ") + kAlice + "x",         // longer
      std::string("Bearer ") + "alice-token-01234",  // prefix of the right one
      "Bearer wrong-token-but-long-enough-secret",
  };
  for (const std::string& value : bad) {
    auto name = (*store)->Authenticate(value);
    ASSERT_FALSE(name.ok()) << value;
    EXPECT_EQ(name.status().code(), absl::StatusCode::kUnauthenticated) << value;
    const std::string message(name.status().message());
    EXPECT_EQ(message.find("alice-token"), std::string::npos) << message;
    EXPECT_EQ(message.find("wrong-token"), std::string::npos) << message;
    EXPECT_EQ(message.find("YWxpY2U"), std::string::npos) << message;
  }
}

TEST(TokenStoreTest, ReloadSwapsTokensAndKeepsOldOnError) {
  TempFile file;
  file.Write(std::string("alice:") + kAlice + "\n");
  auto store = TokenStore::Load(file.path());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->Authenticate(std::string("Bearer ") + kAlice).ok());

  // Rotated: alice's token replaced by ci's.
  file.Write(std::string("ci:") + kCi + "\n");
  ASSERT_TRUE((*store)->Reload().ok());
  EXPECT_FALSE((*store)->Authenticate(std::string("Bearer ") + kAlice).ok());
  auto name = (*store)->Authenticate(std::string("Bearer ") + kCi);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "ci");

  // A broken file: the error names file:line, the old tokens stay.
  file.Write("# broken\nno-colon-here-0123456789\n");
  absl::Status reload = (*store)->Reload();
  ASSERT_FALSE(reload.ok());
  EXPECT_EQ(reload.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(reload.message()).find(file.path() + ":2:"), std::string::npos) << reload;
  EXPECT_NE(std::string(reload.message()).find("keeping the tokens loaded before"),
            std::string::npos);
  EXPECT_TRUE((*store)->Authenticate(std::string("Bearer ") + kCi).ok());

  // A vanished file: NotFound, old tokens stay.
  std::remove(file.path().c_str());
  reload = (*store)->Reload();
  EXPECT_EQ(reload.code(), absl::StatusCode::kNotFound) << reload;
  EXPECT_TRUE((*store)->Authenticate(std::string("Bearer ") + kCi).ok());
}

// Emptying the file and reloading it is how an operator revokes every token at once; tokens
// added later (and reloaded) work again.
TEST(TokenStoreTest, ReloadOfAnEmptiedFileRevokesEveryToken) {
  TempFile file;
  file.Write(std::string("alice:") + kAlice + "\nci:" + kCi + "\n");
  auto store = TokenStore::Load(file.path());
  ASSERT_TRUE(store.ok()) << store.status();
  for (const std::string emptied : {"", "# all revoked\n\n"}) {
    file.Write(emptied);
    ASSERT_TRUE((*store)->Reload().ok());
    EXPECT_EQ((*store)->size(), 0u);
    for (const char* token : {kAlice, kCi}) {
      auto name = (*store)->Authenticate(std::string("Bearer ") + token);
      ASSERT_FALSE(name.ok()) << token;
      EXPECT_EQ(name.status().code(), absl::StatusCode::kUnauthenticated);
    }
    file.Write(std::string("ci:") + kCi + "\n");
    ASSERT_TRUE((*store)->Reload().ok());
    EXPECT_EQ((*store)->size(), 1u);
    EXPECT_TRUE((*store)->Authenticate(std::string("Bearer ") + kCi).ok());
    EXPECT_FALSE((*store)->Authenticate(std::string("Bearer ") + kAlice).ok());
  }
}

TEST(TokenStoreTest, LoadErrors) {
  auto missing = TokenStore::Load("/nonexistent/protean-admin.tokens");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("/nonexistent/protean-admin.tokens"),
            std::string::npos);
}

TEST(TokenStoreTest, PermissionWarning) {
  TempFile file;
  file.Write(std::string("alice:") + kAlice + "\n");
  ASSERT_EQ(chmod(file.path().c_str(), 0600), 0);
  auto store = TokenStore::Load(file.path());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->PermissionWarning(), "");
  ASSERT_EQ(chmod(file.path().c_str(), 0644), 0);
  EXPECT_NE((*store)->PermissionWarning().find("chmod 600"), std::string::npos);
}

TEST(TokenStoreTest, ConcurrentAuthenticateDuringReload) {
  TempFile file;
  file.Write(std::string("alice:") + kAlice + "\n");
  auto store = TokenStore::Load(file.path());
  ASSERT_TRUE(store.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    while (!stop.load()) {
      if (!(*store)->Authenticate(std::string("Bearer ") + kAlice).ok()) failures++;
    }
  });
  for (int i = 0; i < 200; ++i) {
    // alice stays in every version of the file; another token comes and goes.
    file.Write(std::string("alice:") + kAlice + (i % 2 ? "\nci:" + std::string(kCi) : "") + "\n");
    ASSERT_TRUE((*store)->Reload().ok());
  }
  stop = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ClientTokenTest, FileThenEnvironment) {
  TempFile file;
  file.Write("# my token\n\n  " + std::string(kAlice) + "  \n");
  auto token = LoadClientToken(file.path(), "from-env-0123456789");
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->value_or(""), kAlice);

  token = LoadClientToken("", " from-env-0123456789 ");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->value_or(""), "from-env-0123456789");

  token = LoadClientToken("", nullptr);
  ASSERT_TRUE(token.ok());
  EXPECT_FALSE(token->has_value());

  file.Write("# nothing\n\n");
  token = LoadClientToken(file.path(), "from-env-0123456789");
  ASSERT_FALSE(token.ok());
  EXPECT_NE(std::string(token.status().message()).find("holds no token"), std::string::npos);

  token = LoadClientToken("/nonexistent/token", nullptr);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace protean_admin::service
