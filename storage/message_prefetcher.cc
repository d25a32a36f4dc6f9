#include "storage/message_prefetcher.h"

namespace protean_admin::storage {

MessagePrefetcher::MessagePrefetcher(MessageMerger merger, int batch_size, size_t depth)
    : merger_(std::move(merger)), batch_size_(batch_size), depth_(depth == 0 ? 1 : depth) {
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
    batch.reserve(batch_size_);
    absl::Status error;
    while (static_cast<int>(batch.size()) < batch_size_) {
      auto next = merger_.Next();
      if (!next.ok()) {
        error = next.status();
        break;
      }
      if (!next->has_value()) break;
      batch.push_back(std::move(**next));
    }
    const bool exhausted = static_cast<int>(batch.size()) < batch_size_;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stop_ || queue_.size() < depth_; });
    if (stop_) return;
    if (!batch.empty()) queue_.push_back(std::move(batch));
    if (!error.ok() || exhausted) {
      // An error, or a short batch: the merger is exhausted.
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
