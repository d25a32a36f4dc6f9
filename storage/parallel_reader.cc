#include "storage/parallel_reader.h"

#include <libpq-fe.h>

#include <algorithm>

namespace protean_admin::storage {
namespace {

size_t PageBytes(const MessagePage& page) {
  return page.buffer_bytes() + static_cast<size_t>(page.rows()) * 64;  // 64: a row's bookkeeping
}

}  // namespace

ParallelReader::ParallelReader(std::vector<PgConnection> connections,
                               std::vector<CategoryHead> heads, ParallelReadOptions options)
    : heads_(std::move(heads)), options_(options) {
  int64_t head = 0;
  for (const CategoryHead& h : heads_) head = std::max(head, h.head);
  chunk_positions_ = std::max<int64_t>(
      {1, options_.min_chunk_positions, (head + kChunksPerHistory - 1) / kChunksPerHistory});
  chunks_ = (head + chunk_positions_ - 1) / chunk_positions_;
  for (PgConnection& conn : connections) {
    PGcancel* cancel = PQgetCancel(conn.get());  // taken while no thread uses the connection
    lanes_.push_back(std::make_unique<Lane>(Lane{std::move(conn), cancel, {}, 0, {}, {}}));
  }
  for (size_t i = 0; i < lanes_.size(); ++i) {
    lanes_[i]->thread = std::thread([this, i] { Run(i); });
  }
}

ParallelReader::~ParallelReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  // A lane may be waiting for rows inside libpq: its COPY is cancelled (the rows are not wanted).
  for (const std::unique_ptr<Lane>& lane : lanes_) {
    char error[256];
    if (lane->cancel != nullptr) PQcancel(lane->cancel, error, sizeof(error));
  }
  for (const std::unique_ptr<Lane>& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
    if (lane->cancel != nullptr) PQfreeCancel(lane->cancel);
  }
}

void ParallelReader::Run(size_t lane) {
  const int64_t step = static_cast<int64_t>(lanes_.size());
  for (int64_t chunk = static_cast<int64_t>(lane); chunk < chunks_; chunk += step) {
    if (!ReadChunk(*lanes_[lane], chunk)) return;
  }
}

bool ParallelReader::ReadChunk(Lane& lane, int64_t chunk) {
  const int64_t after = chunk * chunk_positions_;
  CategoryReader reader = CategoryReader::StreamingRange(
      &lane.conn, heads_, after, after + chunk_positions_, options_.page_size, options_.columns);
  while (true) {
    absl::StatusOr<std::shared_ptr<const MessagePage>> page = reader.NextPage();
    if (!page.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      lane.status = page.status();
      cv_.notify_all();
      return false;
    }
    const bool end = *page == nullptr;
    if (!Push(lane, Item{*std::move(page)})) return false;
    if (end) return true;
  }
}

bool ParallelReader::Push(Lane& lane, Item item) {
  const size_t bytes = item.page == nullptr ? 0 : PageBytes(*item.page);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] {
    return stop_ || lane.items.empty() || lane.queued_bytes + bytes <= options_.max_queued_bytes;
  });
  if (stop_) return false;
  lane.items.push_back(std::move(item));
  lane.queued_bytes += bytes;
  cv_.notify_all();
  return true;
}

absl::StatusOr<std::optional<MessageRef>> ParallelReader::Next() {
  while (page_ == nullptr || row_ >= page_->rows()) {
    if (chunk_ >= chunks_) return std::optional<MessageRef>();
    Lane& lane = *lanes_[static_cast<size_t>(chunk_) % lanes_.size()];
    Item item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !lane.items.empty() || !lane.status.ok(); });
      if (lane.items.empty()) return lane.status;
      item = std::move(lane.items.front());
      lane.items.pop_front();
      if (item.page != nullptr) lane.queued_bytes -= PageBytes(*item.page);
    }
    cv_.notify_all();
    if (item.page == nullptr) {
      ++chunk_;
      continue;
    }
    page_ = std::move(item.page);
    row_ = 0;
  }
  const int row = row_++;
  return std::optional<MessageRef>(MessageRef{page_, row, page_->Source(row)});
}

}  // namespace protean_admin::storage
