// Batches and pages on the scratch PostgreSQL: memory does not follow the batch size a client
// asks for (nothing reserved by it, pages of at most kMaxPageRows rows and, streamed,
// kMaxPageBytes bytes, batches that end at kMaxBatchBytes), and none of it changes what is
// read or its order.

#include "storage/message_prefetcher.h"

#include <climits>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/message_reader.h"
#include "storage/pg_connection.h"
#include "tests/harness/test_services.h"

namespace protean_admin::storage {
namespace {

class PrefetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "prefetch");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    ASSERT_TRUE(PrepareEventStoreConnection(*conn_).ok());
  }

  // `count` messages alternating between categories a and b, each with a `pad`-byte string in
  // its data.
  void WriteMessages(int count, int pad) {
    auto r = conn_->Exec(absl::StrCat(
        "INSERT INTO message_store.messages (stream_name, position, type, data, metadata) "
        "SELECT CASE WHEN g % 2 = 0 THEN 'a-' ELSE 'b-' END || g, 0, 'X', "
        "jsonb_build_object('n', g, 'pad', repeat('p', ",
        pad, ")), '{}'::jsonb FROM generate_series(1, ", count, ") g"));
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // One streaming reader over a and b, `page_size` per page.
  MessageMerger Streaming(int page_size) {
    auto conn = PgConnection::Connect(uri_);
    EXPECT_TRUE(conn.ok());
    EXPECT_TRUE(PrepareEventStoreConnection(*conn).ok());
    auto heads = SnapshotHeads(*conn_, {"a", "b"});
    EXPECT_TRUE(heads.ok()) << heads.status();
    std::vector<CategoryReader> readers;
    readers.push_back(CategoryReader::Streaming(std::move(*conn), *heads, page_size, {}));
    return MessageMerger(std::move(readers));
  }

  // Keyset readers of a and b merged, `page_size` per page.
  MessageMerger Keyset(int page_size) {
    std::vector<CategoryReader> readers;
    for (const char* category : {"a", "b"}) {
      auto head = SnapshotHead(*conn_, category);
      EXPECT_TRUE(head.ok());
      readers.emplace_back(&*conn_, category, head->head, page_size, ReadColumns{});
    }
    return MessageMerger(std::move(readers));
  }

  // Every batch up to the end; fails the test on a reader error.
  static std::vector<std::vector<MessageRef>> Drain(MessagePrefetcher& prefetcher) {
    std::vector<std::vector<MessageRef>> batches;
    while (true) {
      auto batch = prefetcher.Next();
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok() || batch->empty()) return batches;
      batches.push_back(std::move(*batch));
    }
  }

  // True when the batches hold global positions 1..count in order.
  static ::testing::AssertionResult AllInOrder(const std::vector<std::vector<MessageRef>>& batches,
                                               int count) {
    int64_t expected = 1;
    for (const auto& batch : batches) {
      for (const MessageRef& m : batch) {
        if (m.GlobalPosition() != expected) {
          return ::testing::AssertionFailure()
                 << "position " << m.GlobalPosition() << " where " << expected << " was due";
        }
        ++expected;
      }
    }
    if (expected != count + 1) {
      return ::testing::AssertionFailure() << "read " << expected - 1 << " of " << count;
    }
    return ::testing::AssertionSuccess();
  }

  std::string uri_;
  std::optional<PgConnection> conn_;
};

// The largest int as batch (and page) size: nothing is allocated by it (it used to reserve
// INT_MAX messages and rows: std::bad_alloc, the daemon aborted).
TEST_F(PrefetcherTest, HugeBatchSizeAllocatesNothingByIt) {
  WriteMessages(2500, 10);
  for (bool streaming : {true, false}) {
    MessagePrefetcher prefetcher(streaming ? Streaming(INT_MAX) : Keyset(INT_MAX), INT_MAX);
    auto batches = Drain(prefetcher);
    ASSERT_EQ(batches.size(), 1u) << streaming;
    EXPECT_TRUE(AllInOrder(batches, 2500)) << streaming;
    std::set<const MessagePage*> pages;
    for (const MessageRef& m : batches[0]) {
      pages.insert(m.page.get());
      ASSERT_LE(m.page->rows(), kMaxPageRows) << streaming;
    }
    EXPECT_GE(pages.size(), 3u) << streaming;  // 2500 messages, 1000 a page at most
  }
}

// A streamed page ends at kMaxPageBytes, so its memory does not follow the page size either.
TEST_F(PrefetcherTest, StreamedPagesEndAtTheirByteBound) {
  constexpr int kPad = 256 << 10;  // 256 KiB a message: 16 fill a page
  WriteMessages(40, kPad);
  MessagePrefetcher prefetcher(Streaming(kMaxPageRows), 1000);
  auto batches = Drain(prefetcher);
  ASSERT_FALSE(batches.empty());
  EXPECT_TRUE(AllInOrder(batches, 40));
  std::set<const MessagePage*> pages;
  for (const auto& batch : batches) {
    for (const MessageRef& m : batch) {
      pages.insert(m.page.get());
      EXPECT_LT(m.page->buffer_bytes(), kMaxPageBytes + kPad + 100);
    }
  }
  EXPECT_GE(pages.size(), 3u);
}

// A batch ends early once its messages (text plus kBatchBytesPerMessage each) reach the byte
// bound; the next one goes on where it ended, and the end is still found (a short batch no
// longer means the end).
TEST_F(PrefetcherTest, BatchesEndEarlyAtTheirByteBoundAndLoseNothing) {
  WriteMessages(300, 1000);
  constexpr size_t kBound = 10000;  // about 8 messages of ~1030 bytes (+256 each)
  for (bool streaming : {true, false}) {
    MessagePrefetcher prefetcher(streaming ? Streaming(100) : Keyset(100), 1000, 2, kBound);
    auto batches = Drain(prefetcher);
    EXPECT_TRUE(AllInOrder(batches, 300)) << streaming;
    ASSERT_GT(batches.size(), 25u) << streaming;
    for (size_t i = 0; i + 1 < batches.size(); ++i) {
      size_t bytes = 0;
      for (const MessageRef& m : batches[i]) {
        EXPECT_LT(bytes, kBound) << "batch " << i << " went on after its bound";
        bytes += m.StreamName().size() + m.Type().size() + m.Data().size() + kBatchBytesPerMessage;
      }
      EXPECT_GE(bytes, kBound) << "batch " << i << " ended before its bound";
    }
  }
}

}  // namespace
}  // namespace protean_admin::storage
