#ifndef PROTEAN_ADMIN_STORAGE_MESSAGE_PREFETCHER_H_
#define PROTEAN_ADMIN_STORAGE_MESSAGE_PREFETCHER_H_

// Reads merged batches on a background thread while the caller applies the previous ones.
// The merger's connection belongs to that thread until the prefetcher is destroyed. Memory:
// at most `depth` batches queued plus one page per category.

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/message_reader.h"

namespace protean_admin::storage {

class MessagePrefetcher {
 public:
  MessagePrefetcher(MessageMerger merger, int batch_size, size_t depth = 2);
  ~MessagePrefetcher();
  MessagePrefetcher(const MessagePrefetcher&) = delete;
  MessagePrefetcher& operator=(const MessagePrefetcher&) = delete;

  // The next batch in global_position order; empty at the end; the reader's error if any.
  absl::StatusOr<std::vector<MessageRef>> Next();

 private:
  void Run();

  MessageMerger merger_;
  const int batch_size_;
  const size_t depth_;
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
