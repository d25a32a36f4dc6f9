#include "storage/message_reader.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace protean_admin::storage {
namespace {

int64_t ParseInt64(std::string_view text) {
  int64_t value = 0;
  bool negative = false;
  size_t i = 0;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    i = 1;
  }
  for (; i < text.size(); ++i) value = value * 10 + (text[i] - '0');
  return negative ? -value : value;
}

}  // namespace

absl::Status PrepareEventStoreConnection(PgConnection& conn) {
  auto r = conn.Exec("SET search_path TO message_store, public");
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::StatusOr<CategoryHead> SnapshotHead(PgConnection& conn, std::string_view category) {
  auto r = conn.ExecParams(
      "SELECT coalesce(max(global_position), 0), count(*) FILTER (WHERE type <> 'SNAPSHOT') "
      "FROM message_store.messages WHERE message_store.category(stream_name) = $1",
      {std::string(category)});
  if (!r.ok()) return r.status();
  CategoryHead head;
  head.category = std::string(category);
  head.head = ParseInt64(r->Get(0, 0));
  head.count = ParseInt64(r->Get(0, 1));
  return head;
}

int64_t MessagePage::GlobalPosition(int row) const { return ParseInt64(result_.Get(row, 0)); }
int64_t MessagePage::Position(int row) const { return ParseInt64(result_.Get(row, 1)); }

absl::StatusOr<bool> CategoryReader::Ready() {
  if (page_ && row_ < page_->rows()) return true;
  if (exhausted_) return false;
  if (page_ && page_->rows() > 0) last_ = page_->GlobalPosition(page_->rows() - 1);
  std::string sql = "SELECT global_position, position, stream_name, type, data::text";
  if (columns_.time) sql += ", time::text";
  if (columns_.id) sql += ", id::text";
  sql +=
      " FROM message_store.messages WHERE message_store.category(stream_name) = $1"
      " AND global_position > $2 AND global_position <= $3 AND type <> 'SNAPSHOT'"
      " ORDER BY global_position LIMIT $4";
  auto r = conn_->ExecParams(
      sql, {category_, absl::StrCat(last_), absl::StrCat(head_), absl::StrCat(page_size_)});
  if (!r.ok()) return r.status();
  auto page = std::make_shared<MessagePage>(std::move(*r), columns_);
  if (page->rows() < page_size_) exhausted_ = true;
  page_ = std::move(page);
  row_ = 0;
  return page_->rows() > 0;
}

absl::StatusOr<std::optional<MessageRef>> MessageMerger::Next() {
  int best = -1;
  int64_t best_position = 0;
  for (size_t i = 0; i < readers_.size(); ++i) {
    absl::StatusOr<bool> ready = readers_[i].Ready();
    if (!ready.ok()) return ready.status();
    if (!*ready) continue;
    int64_t position = readers_[i].CurrentPosition();
    if (best < 0 || position < best_position) {
      best = static_cast<int>(i);
      best_position = position;
    }
  }
  if (best < 0) return std::optional<MessageRef>();
  MessageRef ref = readers_[best].Current(best);
  readers_[best].Advance();
  return std::optional<MessageRef>(std::move(ref));
}

}  // namespace protean_admin::storage
