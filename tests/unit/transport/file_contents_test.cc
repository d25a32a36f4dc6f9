// transport/file_contents.h: the one reader of PEM and token files, and the CLI's credentials
// built on it (transport/client_credentials.h).

#include "transport/file_contents.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "transport/client_credentials.h"

namespace protean_admin::transport {
namespace {

using ::testing::HasSubstr;

constexpr char kPem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/protean-admin-transport-XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = name;
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ReadFileContentsTest, ReturnsTheWholeFileEvenEmpty) {
  TempFile file("line 1\nline 2\n");
  absl::StatusOr<std::string> content = ReadFileContents(file.path(), "--token-file");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "line 1\nline 2\n");

  TempFile empty("");
  content = ReadFileContents(empty.path(), "--token-file");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "");
}

TEST(ReadFileContentsTest, MissingFileIsNotFoundNamingWhatAndPath) {
  absl::StatusOr<std::string> content = ReadFileContents("/nonexistent/x.pem", "--tls-ca");
  ASSERT_FALSE(content.ok());
  EXPECT_EQ(content.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(content.status().message(), HasSubstr("--tls-ca: cannot read /nonexistent/x.pem"));
}

TEST(ReadPemFileTest, ReturnsPem) {
  TempFile file(kPem);
  absl::StatusOr<std::string> content = ReadPemFile(file.path(), "--tls-cert");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, kPem);
}

TEST(ReadPemFileTest, RejectsAnEmptyFileNamingIt) {
  TempFile empty("");
  absl::StatusOr<std::string> content = ReadPemFile(empty.path(), "--tls-key");
  ASSERT_FALSE(content.ok());
  EXPECT_EQ(content.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(content.status().message(), "--tls-key: " + empty.path() + " is empty");
}

TEST(ReadPemFileTest, RejectsNonPemAndNoPath) {
  TempFile text("hello\n");
  absl::StatusOr<std::string> content = ReadPemFile(text.path(), "--tls-key");
  ASSERT_FALSE(content.ok());
  EXPECT_THAT(content.status().message(), HasSubstr(text.path() + " is not PEM"));

  content = ReadPemFile("", "--tls-client-ca");
  ASSERT_FALSE(content.ok());
  EXPECT_EQ(content.status().message(), "--tls-client-ca: no file given");
}

// The CLI reads its PEM files with the same function: an empty CA file is refused by name.
TEST(BuildChannelCredentialsTest, RefusesAnEmptyCaFile) {
  TempFile empty("");
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      BuildChannelCredentials({.ca_file = empty.path()});
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.status().message(), "--tls-ca: " + empty.path() + " is empty");
}

TEST(BuildChannelCredentialsTest, PlaintextWithoutTlsOptions) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      BuildChannelCredentials({});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_NE(*credentials, nullptr);
}

}  // namespace
}  // namespace protean_admin::transport
