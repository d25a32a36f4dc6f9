#ifndef PROTEAN_ADMIN_STORAGE_MESSAGE_PREFETCHER_H_
#define PROTEAN_ADMIN_STORAGE_MESSAGE_PREFETCHER_H_

// Reads merged batches on a background thread while the caller applies the previous ones.
// The merger's connection belongs to that thread until the prefetcher is destroyed.
//
// Memory stays bounded whatever the batch size asked for: a batch holds at most `batch_size`
// messages but ends early once its messages reach `max_batch_bytes`, each counting its text
// (stream name, type, data, time, id) plus kBatchBytesPerMessage; nothing is reserved by
// `batch_size` (a batch grows as messages arrive). At most `depth` batches are queued, plus
// the one being read, plus one page per category (storage/message_reader.h bounds pages). A
// batch only groups work (and, with the in-place strategy, commits): where one ends changes
// nothing in what is read, nor in its order.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/message_reader.h"

namespace protean_admin::storage {

// Where a batch ends early, whatever its size. With the bank benchmark's events (about 150
// bytes of text) a batch ends near 20,000 events; the rebuild engine then peaks below 70 MiB
// whatever the batch size (bench/README.md).
inline constexpr size_t kMaxBatchBytes = size_t{8} << 20;
// What a message counts for besides its text: its page row and reference (about 100 bytes)
// and a share of the per-event state of whoever applies the batch.
inline constexpr size_t kBatchBytesPerMessage = 256;
// Messages reserved up front per batch at most.
inline constexpr size_t kMaxReservedBatchMessages = 1024;

class MessagePrefetcher {
 public:
  // `batch_size` < 1 counts as 1.
  MessagePrefetcher(MessageMerger merger, int batch_size, size_t depth = 2,
                    size_t max_batch_bytes = kMaxBatchBytes);
  // The same over any source (e.g. storage/parallel_reader.h).
  MessagePrefetcher(std::unique_ptr<MessageSource> source, int batch_size, size_t depth = 2,
                    size_t max_batch_bytes = kMaxBatchBytes);
  ~MessagePrefetcher();
  MessagePrefetcher(const MessagePrefetcher&) = delete;
  MessagePrefetcher& operator=(const MessagePrefetcher&) = delete;

  // The next batch in global_position order; empty at the end; the reader's error if any.
  absl::StatusOr<std::vector<MessageRef>> Next();

 private:
  void Run();

  std::unique_ptr<MessageSource> source_;
  const size_t batch_size_;
  const size_t depth_;
  const size_t max_batch_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<MessageRef>> queue_;
  absl::Status status_;
  bool done_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_MESSAGE_PREFETCHER_H_
