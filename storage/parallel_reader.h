#ifndef PROTEAN_ADMIN_STORAGE_PARALLEL_READER_H_
#define PROTEAN_ADMIN_STORAGE_PARALLEL_READER_H_

// The streaming read of a rebuild spread over several connections (docs/design.md §5
// "Reading"). One COPY keeps one PostgreSQL backend busy producing rows (finding them,
// turning each payload from jsonb into text), and on a large history that backend, not the
// rebuild, sets the pace. Here the global positions up to the heads are cut into chunks; chunk
// i is read by connection i mod n with its own COPY (CategoryReader::StreamingRange), on a
// thread of its own that queues the decoded pages; Next() hands the chunks out in order. The
// messages and their order are exactly one streaming reader's.
//
// Memory: each connection queues at most `max_queued_bytes` of pages ahead (at least one
// page), so the bound is n times that plus the pages the caller holds.

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/message_reader.h"
#include "storage/pg_connection.h"

namespace protean_admin::storage {

struct ParallelReadOptions {
  int page_size = 500;
  ReadColumns columns;
  // Positions per chunk at least; a history is cut into about kChunksPerHistory chunks.
  int64_t min_chunk_positions = 16384;
  size_t max_queued_bytes = size_t{16} << 20;
};

class ParallelReader : public MessageSource {
 public:
  // Reads the messages of `heads` (each category up to its head) over `connections` (at least
  // one; each prepared for the event store). The threads start at once.
  ParallelReader(std::vector<PgConnection> connections, std::vector<CategoryHead> heads,
                 ParallelReadOptions options);
  ~ParallelReader() override;
  ParallelReader(const ParallelReader&) = delete;
  ParallelReader& operator=(const ParallelReader&) = delete;

  absl::StatusOr<std::optional<MessageRef>> Next() override;

  static constexpr int64_t kChunksPerHistory = 64;

 private:
  struct Item {
    std::shared_ptr<const MessagePage> page;  // null: the chunk ends here
  };
  struct Lane {
    PgConnection conn;
    PGcancel* cancel = nullptr;  // cancels the lane's COPY when the reader is destroyed
    std::deque<Item> items;
    size_t queued_bytes = 0;
    absl::Status status;  // the lane's read failed (it stops)
    std::thread thread;
  };

  void Run(size_t lane);
  // Reads chunk `chunk` on `lane`, queueing its pages; false when stopped or failed.
  bool ReadChunk(Lane& lane, int64_t chunk);
  bool Push(Lane& lane, Item item);

  const std::vector<CategoryHead> heads_;
  const ParallelReadOptions options_;
  int64_t chunk_positions_ = 1;
  int64_t chunks_ = 0;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  // The consumer's place: the chunk being handed out and the page being read.
  int64_t chunk_ = 0;
  std::shared_ptr<const MessagePage> page_;
  int row_ = 0;
};

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_PARALLEL_READER_H_
