#include "storage/message_reader.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

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

uint32_t ReadU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

int64_t ReadI64(const char* p) {
  uint64_t hi = ReadU32(p), lo = ReadU32(p + 4);
  return static_cast<int64_t>((hi << 32) | lo);
}

int16_t ReadI16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<int16_t>((u[0] << 8) | u[1]);
}

constexpr char kCopySignature[] = "PGCOPY\n\377\r\n\0";
constexpr size_t kCopyHeaderSize = 11 + 4 + 4;

}  // namespace

absl::Status PrepareEventStoreConnection(PgConnection& conn) {
  // JIT compiling the read's expressions costs more than it saves for a stream of plain
  // column values.
  auto r = conn.Exec("SET search_path TO message_store, public; SET jit = off");
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

absl::StatusOr<std::vector<CategoryHead>> SnapshotHeads(
    PgConnection& conn, const std::vector<std::string>& categories) {
  std::vector<CategoryHead> heads;
  for (const std::string& c : categories) heads.push_back(CategoryHead{c, 0, 0});
  if (categories.empty()) return heads;
  std::vector<std::string> literals;
  for (const std::string& c : categories) {
    auto quoted = conn.QuoteLiteral(c);
    if (!quoted.ok()) return quoted.status();
    literals.push_back(std::move(*quoted));
  }
  // One statement (one snapshot). Literals, not parameters: the planner then probes the
  // category index for a rare category and the primary key backwards for a frequent one; a
  // generic plan would scan the whole history backwards for a category with no events.
  std::string sql = "SELECT ";
  for (size_t i = 0; i < literals.size(); ++i) {
    absl::StrAppend(&sql, i > 0 ? ", " : "",
                    "(SELECT coalesce(max(global_position), 0) FROM message_store.messages "
                    "WHERE message_store.category(stream_name) = ",
                    literals[i], ")");
  }
  auto r = conn.Exec(sql);
  if (!r.ok()) return r.status();
  for (size_t i = 0; i < heads.size(); ++i) heads[i].head = ParseInt64(r->Get(0, i));

  auto analyzed = conn.Exec(
      "SELECT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = 'message_store' "
      "AND tablename = 'messages')");
  if (!analyzed.ok()) return analyzed.status();
  if (analyzed->Get(0, 0) != "t") {
    // No statistics, so no estimate: count (such a table is small or new).
    for (CategoryHead& head : heads) {
      if (head.head == 0) continue;
      auto counted = SnapshotHead(conn, head.category);
      if (!counted.ok()) return counted.status();
      head.count = counted->count;
    }
    return heads;
  }
  for (size_t i = 0; i < heads.size(); ++i) {
    heads[i].count_exact = false;
    if (heads[i].head == 0) continue;
    auto plan = conn.Exec(absl::StrCat(
        "EXPLAIN SELECT 1 FROM message_store.messages WHERE message_store.category(stream_name) "
        "= ",
        literals[i], " AND type <> 'SNAPSHOT'"));
    if (!plan.ok()) return plan.status();
    // The top plan node's line: "... (cost=a..b rows=N width=w)".
    std::string_view line = plan->rows() > 0 ? plan->Get(0, 0) : "";
    size_t at = line.find(" rows=");
    if (at == std::string_view::npos) continue;
    line.remove_prefix(at + 6);
    heads[i].count = ParseInt64(line.substr(0, line.find(' ')));
  }
  return heads;
}

int64_t MessagePage::GlobalPosition(int row) const {
  return streamed_ ? rows_[row].global_position : ParseInt64(result_.Get(row, 0));
}
int64_t MessagePage::Position(int row) const {
  return streamed_ ? rows_[row].position : ParseInt64(result_.Get(row, 1));
}

bool MessagePage::AppendCopyRow(const char* data, size_t size) {
  const int columns = 5 + (columns_.time ? 1 : 0) + (columns_.id ? 1 : 0);
  Row row;
  size_t at = 0;
  for (int c = 0; c < columns; ++c) {
    if (at + 4 > size) return false;
    int32_t length = static_cast<int32_t>(ReadU32(data + at));
    at += 4;
    if (length < 0) {
      // NULL: only data (and optional columns) may be null.
      if (c < 4) return false;
      if (c == 4) row.null_data = true;
      continue;
    }
    if (at + static_cast<size_t>(length) > size) return false;
    if (c < 2) {
      if (length != 8) return false;
      (c == 0 ? row.global_position : row.position) = ReadI64(data + at);
    } else {
      row.offset[c] = static_cast<uint32_t>(buffer_.size());
      row.length[c] = static_cast<uint32_t>(length);
      buffer_.append(data + at, length);
    }
    at += length;
  }
  rows_.push_back(row);
  return at == size;
}

void MessagePage::DropLastRow() {
  const Row& row = rows_.back();
  size_t begin = buffer_.size();
  for (int c = 2; c < kMaxColumns; ++c) {
    if (row.length[c] > 0 && row.offset[c] < begin) begin = row.offset[c];
  }
  buffer_.resize(begin);
  rows_.pop_back();
}

CategoryReader CategoryReader::Streaming(PgConnection conn, std::vector<CategoryHead> heads,
                                         int page_size, ReadColumns columns) {
  auto owned = std::make_unique<PgConnection>(std::move(conn));
  int64_t head = 0;
  for (const CategoryHead& h : heads) head = std::max(head, h.head);
  CategoryReader reader(owned.get(), "", head, page_size, columns, 0);
  reader.heads_ = std::move(heads);
  reader.owned_ = std::move(owned);
  reader.streaming_ = true;
  return reader;
}

CategoryReader CategoryReader::StreamingRange(PgConnection* conn, std::vector<CategoryHead> heads,
                                              int64_t after, int64_t until, int page_size,
                                              ReadColumns columns) {
  CategoryReader reader(conn, "", until, page_size, columns, 0);
  reader.heads_ = std::move(heads);
  reader.after_ = after;
  reader.streaming_ = true;
  return reader;
}

absl::StatusOr<std::shared_ptr<const MessagePage>> CategoryReader::NextPage() {
  ASSIGN_OR_RETURN(const bool ready, ReadyStreaming());
  if (!ready) return nullptr;
  row_ = page_->rows();
  return page_;
}

absl::Status CategoryReader::StartCopy() {
  PGconn* pg = conn_->get();
  std::string in;
  for (const CategoryHead& h : heads_) {
    if (h.head == 0) continue;
    auto quoted = conn_->QuoteLiteral(h.category);
    if (!quoted.ok()) return quoted.status();
    absl::StrAppend(&in, in.empty() ? "" : ", ", *quoted);
  }
  if (in.empty()) {
    exhausted_ = true;
    return absl::OkStatus();
  }
  std::string sql =
      "COPY (SELECT global_position, position, stream_name::text, type::text, "
      "data::text";
  if (columns_.time) sql += ", time::text";
  if (columns_.id) sql += ", id::text";
  // Each category's own head is applied while decoding (ReadyStreaming).
  absl::StrAppend(&sql,
                  " FROM message_store.messages WHERE message_store.category(stream_name) IN (", in,
                  ") AND global_position > ", after_, " AND global_position <= ", head_,
                  " AND type <> 'SNAPSHOT' ORDER BY global_position) TO STDOUT (FORMAT binary)");
  PgResult start(PQexec(pg, sql.c_str()));
  if (PQresultStatus(start.get()) != PGRES_COPY_OUT) {
    absl::Status status = ResultStatus(pg, start.get(), "reading messages failed");
    return status.ok() ? absl::InternalError("reading messages failed: server did not start COPY")
                       : status;
  }
  copy_started_ = true;
  return absl::OkStatus();
}

absl::StatusOr<bool> CategoryReader::ReadyStreaming() {
  if (page_ && row_ < page_->rows()) return true;
  if (exhausted_) return false;
  if (!copy_started_) {
    absl::Status s = StartCopy();
    if (!s.ok()) return s;
    if (exhausted_) return false;
  }
  PGconn* pg = conn_->get();
  auto page = std::make_shared<MessagePage>(columns_);
  page->Reserve(page_size_, std::min(last_page_bytes_ + last_page_bytes_ / 4, kMaxPageBytes));
  bool ended = false;
  while (page->rows() < page_size_ && page->buffer_bytes() < kMaxPageBytes) {
    char* buffer = nullptr;
    int n = PQgetCopyData(pg, &buffer, 0);
    if (n == -1) {
      ended = true;
      break;
    }
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat("reading messages failed: ", PQerrorMessage(pg)));
    }
    const char* p = buffer;
    size_t size = static_cast<size_t>(n);
    bool ok = true;
    if (!header_seen_) {
      if (size < kCopyHeaderSize || std::memcmp(p, kCopySignature, 11) != 0) {
        ok = false;
      } else {
        size_t extension = ReadU32(p + 15);
        size_t skip = kCopyHeaderSize + extension;
        if (size < skip) {
          ok = false;
        } else {
          p += skip;
          size -= skip;
          header_seen_ = true;
        }
      }
    }
    if (ok && size >= 2) {
      int16_t fields = ReadI16(p);
      if (fields == -1) {
        // The trailer: the COPY's end follows.
      } else {
        ok = page->AppendCopyRow(p + 2, size - 2);
        if (ok) ok = KeepLastRow(*page);
      }
    }
    PQfreemem(buffer);
    if (!ok) return absl::InternalError("reading messages failed: unexpected COPY row format");
  }
  if (ended) {
    exhausted_ = true;
    absl::Status status;
    while (PGresult* r = PQgetResult(pg)) {
      PgResult owned(r);
      absl::Status s = ResultStatus(pg, r, "reading messages failed");
      if (status.ok() && !s.ok()) status = s;
    }
    if (!status.ok()) return status;
    if (PQstatus(pg) != CONNECTION_OK) {
      return absl::UnavailableError(absl::StrCat(
          "reading messages failed: connection to PostgreSQL lost: ", PQerrorMessage(pg)));
    }
  }
  last_page_bytes_ = page->buffer_bytes();
  if (page->rows() > 0) last_ = page->GlobalPosition(page->rows() - 1);
  page_ = std::move(page);
  row_ = 0;
  return page_->rows() > 0;
}

bool CategoryReader::KeepLastRow(MessagePage& page) const {
  const int row = page.rows() - 1;
  std::string_view stream = page.StreamName(row);
  std::string_view category = stream.substr(0, stream.find('-'));
  for (size_t i = 0; i < heads_.size(); ++i) {
    if (heads_[i].category != category) continue;
    if (page.GlobalPosition(row) > heads_[i].head) {
      page.DropLastRow();  // written after this category's snapshot
    } else {
      page.SetLastRowSource(static_cast<int>(i));
    }
    return true;
  }
  return false;  // not a category that was asked for
}

absl::StatusOr<bool> CategoryReader::Ready() {
  if (streaming_) return ReadyStreaming();
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
