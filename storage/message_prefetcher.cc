#include "storage/message_prefetcher.h"

#include <algorithm>

namespace protean_admin::storage {
namespace {

size_t BatchBytes(const MessageRef& m) {
  return m.StreamName().size() + m.Type().size() + m.Data().size() + m.Time().size() +
         m.Id().size() + kBatchBytesPerMessage;
}

}  // namespace

MessagePrefetcher::MessagePrefetcher(MessageMerger merger, int batch_size, size_t depth,
                                     size_t max_batch_bytes)
    : MessagePrefetcher(std::make_unique<MessageMerger>(std::move(merger)), batch_size, depth,
                        max_batch_bytes) {}

MessagePrefetcher::MessagePrefetcher(std::unique_ptr<MessageSource> source, int batch_size,
                                     size_t depth, size_t max_batch_bytes)
    : source_(std::move(source)),
      batch_size_(static_cast<size_t>(std::max(batch_size, 1))),
      depth_(depth == 0 ? 1 : depth),
      max_batch_bytes_(max_batch_bytes) {
  thread_ = std::thread([this] { Run(); });
}

MessagePrefetcher::~MessagePrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MessagePrefetcher::Run() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    std::vector<MessageRef> batch;
    batch.reserve(std::min(batch_size_, kMaxReservedBatchMessages));
    absl::Status error;
    bool exhausted = false;
    size_t bytes = 0;
    while (batch.size() < batch_size_ && bytes < max_batch_bytes_) {
      auto next = source_->Next();
      if (!next.ok()) {
        error = next.status();
        break;
      }
      if (!next->has_value()) {
        exhausted = true;
        break;
      }
      bytes += BatchBytes(**next);
      batch.push_back(std::move(**next));
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stop_ || queue_.size() < depth_; });
    if (stop_) return;
    if (!batch.empty()) queue_.push_back(std::move(batch));
    if (!error.ok() || exhausted) {
      status_ = error;
      done_ = true;
      cv_.notify_all();
      return;
    }
    cv_.notify_all();
  }
}

absl::StatusOr<std::vector<MessageRef>> MessagePrefetcher::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty() || done_; });
  if (!queue_.empty()) {
    std::vector<MessageRef> batch = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return batch;
  }
  if (!status_.ok()) return status_;
  return std::vector<MessageRef>();
}

}  // namespace protean_admin::storage
