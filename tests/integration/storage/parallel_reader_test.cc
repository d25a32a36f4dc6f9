// The read of a rebuild over several connections (storage/parallel_reader.h): the same
// messages in the same order as one streaming reader, whatever the lanes, chunk sizes, page
// sizes and queue bounds; a failing lane is an error, not a hang; dropping the reader early
// stops its threads.

#include "storage/parallel_reader.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/pg_connection.h"
#include "tests/harness/test_services.h"

namespace protean_admin::storage {
namespace {

class ParallelReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    services_ = *services;
    auto uri = testing::CreateScratchDatabase(services_, "parallel");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    conn_.emplace(Connect(uri_));
    // 240 messages over categories a, b (read), c (not read), with SNAPSHOT rows and stream
    // names of another category (a:snapshot).
    for (int i = 0; i < 240; ++i) {
      const std::string stream = i % 11 == 0  ? "a:snapshot-1"
                                 : i % 3 == 0 ? absl::StrCat("b-", i % 7)
                                 : i % 5 == 0 ? "c-1"
                                              : absl::StrCat("a-", i % 4);
      auto gp = testing::WriteMessage(*conn_, stream, i % 13 == 0 ? "SNAPSHOT" : "X",
                                      absl::StrCat(R"({"n": )", i, "}"));
      ASSERT_TRUE(gp.ok()) << gp.status();
    }
    auto heads = SnapshotHeads(*conn_, {"a", "b"});
    ASSERT_TRUE(heads.ok()) << heads.status();
    heads_ = *heads;
    heads_[1].head -= 30;  // b's head before a's: b's later messages are not read
  }

  static PgConnection Connect(const std::string& uri) {
    auto conn = PgConnection::Connect(uri);
    EXPECT_TRUE(conn.ok()) << conn.status();
    EXPECT_TRUE(PrepareEventStoreConnection(*conn).ok());
    return *std::move(conn);
  }

  static std::vector<std::string> Drain(MessageSource& source) {
    std::vector<std::string> seen;
    while (true) {
      auto next = source.Next();
      EXPECT_TRUE(next.ok()) << next.status();
      if (!next.ok() || !next->has_value()) return seen;
      seen.push_back(absl::StrCat((*next)->GlobalPosition(), " ",
                                  std::string((*next)->StreamName()), " ",
                                  std::string((*next)->Data()), " ", (*next)->source));
    }
  }

  testing::TestServices services_;
  std::string uri_;
  std::optional<PgConnection> conn_;
  std::vector<CategoryHead> heads_;
};

TEST_F(ParallelReaderTest, ReadsWhatOneStreamReadsInTheSameOrder) {
  std::vector<CategoryReader> one;
  one.push_back(CategoryReader::Streaming(Connect(uri_), heads_, 50, ReadColumns{}));
  MessageMerger merger(std::move(one));
  const std::vector<std::string> expected = Drain(merger);
  ASSERT_GT(expected.size(), 100u);
  for (int lanes : {1, 2, 3}) {
    for (int64_t chunk : {1, 7, 64, 1000}) {
      for (int page : {1, 5, 100}) {
        for (size_t queued : {size_t{1}, size_t{16} << 20}) {
          std::vector<PgConnection> connections;
          for (int i = 0; i < lanes; ++i) connections.push_back(Connect(uri_));
          ParallelReadOptions options{page, ReadColumns{}, chunk, queued};
          ParallelReader reader(std::move(connections), heads_, options);
          EXPECT_EQ(Drain(reader), expected) << lanes << " lanes, chunks of " << chunk
                                             << ", pages of " << page << ", queue " << queued;
        }
      }
    }
  }
}

TEST_F(ParallelReaderTest, AFailingLaneIsAnErrorAndDroppingTheReaderStopsIt) {
  // Lane 1 reads a database without Message DB: its first chunk fails.
  auto bare = testing::CreateScratchDatabase(services_, "bare", /*message_store=*/false);
  ASSERT_TRUE(bare.ok()) << bare.status();
  std::vector<PgConnection> connections;
  connections.push_back(Connect(uri_));
  connections.push_back(*PgConnection::Connect(*bare));
  ParallelReader reader(std::move(connections), heads_, ParallelReadOptions{10, {}, 16, 1});
  absl::Status failed;
  for (int i = 0; i < 1000 && failed.ok(); ++i) {
    auto next = reader.Next();
    if (!next.ok()) failed = next.status();
    ASSERT_TRUE(!next.ok() || next->has_value()) << "ended without the failing lane's error";
  }
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("reading messages failed"), std::string_view::npos) << failed;

  // Dropped after a few messages, with lanes waiting on full queues: no hang.
  std::vector<PgConnection> more;
  for (int i = 0; i < 2; ++i) more.push_back(Connect(uri_));
  auto early =
      std::make_unique<ParallelReader>(std::move(more), heads_, ParallelReadOptions{1, {}, 4, 1});
  ASSERT_TRUE(early->Next().ok());
  early.reset();
}

}  // namespace
}  // namespace protean_admin::storage
