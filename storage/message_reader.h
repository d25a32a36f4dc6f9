#ifndef PROTEAN_ADMIN_STORAGE_MESSAGE_READER_H_
#define PROTEAN_ADMIN_STORAGE_MESSAGE_READER_H_

// Reading Message DB for a rebuild: the head snapshot of the categories, one binary COPY
// stream over all of them in global_position order (or keyset pages of one category up to
// its head, merged k-way). Memory is bounded by the page: at most kMaxPageRows messages
// whatever page size a reader is given, and a streamed page ends early once its text reaches
// kMaxPageBytes. The page size only sets how much is read at once, never what is read.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/pg_connection.h"

namespace protean_admin::storage {

// The most messages a page holds (larger page sizes are read kMaxPageRows at a time).
inline constexpr int kMaxPageRows = 1000;
// A streamed page ends once its messages' text reaches this (a single larger message still
// makes a page of its own).
inline constexpr size_t kMaxPageBytes = size_t{4} << 20;

// Sets the search_path of an event store connection so that Message DB's functions work.
absl::Status PrepareEventStoreConnection(PgConnection& conn);

struct CategoryHead {
  std::string category;
  int64_t head = 0;   // highest global_position now (0 when the category is empty)
  int64_t count = 0;  // messages up to the head, SNAPSHOT rows excluded (see count_exact)
  // False: `count` is PostgreSQL's planner estimate (the table has statistics), which costs
  // no scan; true: counted exactly (a table never analyzed, or SnapshotHead).
  bool count_exact = true;
};

// The head of one category and its exact count (one scan of the category).
absl::StatusOr<CategoryHead> SnapshotHead(PgConnection& conn, std::string_view category);

// The heads of several categories, read by one statement (one snapshot; an index probe per
// category). Counts are estimates when message_store.messages has planner statistics (an
// exact count would scan the whole history once more before the replay), exact otherwise.
absl::StatusOr<std::vector<CategoryHead>> SnapshotHeads(PgConnection& conn,
                                                        const std::vector<std::string>& categories);

// Which optional columns a reader fetches.
struct ReadColumns {
  bool time = false;
  bool id = false;
};

// One page of messages. Columns: 0 global_position, 1 position, 2 stream_name, 3 type,
// 4 data (JSON text), 5 time, 6 id (empty strings when not read).
// A page either wraps a query result or owns rows decoded from a binary COPY stream.
class MessagePage {
 public:
  explicit MessagePage(PgResult result, ReadColumns columns)
      : result_(std::move(result)), columns_(columns), streamed_(false) {}
  // An empty page to be filled by AppendCopyRow (rows decoded from COPY ... (FORMAT binary)).
  explicit MessagePage(ReadColumns columns) : columns_(columns), streamed_(true) {}

  int rows() const { return streamed_ ? static_cast<int>(rows_.size()) : result_.rows(); }
  int64_t GlobalPosition(int row) const;
  int64_t Position(int row) const;
  std::string_view StreamName(int row) const { return Field(row, 2); }
  std::string_view Type(int row) const { return Field(row, 3); }
  std::string_view Data(int row) const { return Field(row, 4); }
  bool DataIsNull(int row) const {
    return streamed_ ? rows_[row].null_data : result_.IsNull(row, 4);
  }
  std::string_view Time(int row) const { return columns_.time ? Field(row, 5) : ""; }
  std::string_view Id(int row) const {
    return columns_.id ? Field(row, columns_.time ? 6 : 5) : "";
  }

  // Decodes one binary COPY tuple (after its 16-bit field count). Returns false when the tuple
  // does not have the expected shape.
  bool AppendCopyRow(const char* data, size_t size);
  // Removes the last row (appended by AppendCopyRow).
  void DropLastRow();
  void SetLastRowSource(int source) { rows_.back().source = source; }
  int Source(int row) const { return streamed_ ? rows_[row].source : -1; }
  size_t buffer_bytes() const { return buffer_.size(); }
  void Reserve(size_t rows, size_t bytes) {
    rows_.reserve(rows);
    buffer_.reserve(bytes);
  }

 private:
  static constexpr int kMaxColumns = 7;
  struct Row {
    int64_t global_position = 0;
    int64_t position = 0;
    uint32_t offset[kMaxColumns] = {};
    uint32_t length[kMaxColumns] = {};
    bool null_data = false;
    int source = 0;
  };
  std::string_view Field(int row, int column) const {
    if (!streamed_) return result_.Get(row, column);
    const Row& r = rows_[row];
    return std::string_view(buffer_.data() + r.offset[column], r.length[column]);
  }

  PgResult result_;
  ReadColumns columns_;
  bool streamed_;
  std::string buffer_;
  std::vector<Row> rows_;
};

// A message inside a page (the page is kept alive by the reference).
struct MessageRef {
  std::shared_ptr<const MessagePage> page;
  int row = 0;
  int source = 0;  // index of the category reader it came from

  int64_t GlobalPosition() const { return page->GlobalPosition(row); }
  int64_t Position() const { return page->Position(row); }
  std::string_view StreamName() const { return page->StreamName(row); }
  std::string_view Type() const { return page->Type(row); }
  std::string_view Data() const { return page->Data(row); }
  bool DataIsNull() const { return page->DataIsNull(row); }
  std::string_view Time() const { return page->Time(row); }
  std::string_view Id() const { return page->Id(row); }
};

// Keyset pages of one category: global_position in (last, head], SNAPSHOT rows excluded.
// A category reader never sees other categories: "x:snapshot-1" or "x:command-1" have the
// category "x:snapshot" / "x:command" in Message DB's sense.
class CategoryReader {
 public:
  // Reads global positions in (after, head], `page_size` messages at a time (at most
  // kMaxPageRows, at least 1).
  CategoryReader(PgConnection* conn, std::string category, int64_t head, int page_size,
                 ReadColumns columns, int64_t after = 0)
      : conn_(conn),
        category_(std::move(category)),
        head_(head),
        page_size_(std::clamp(page_size, 1, kMaxPageRows)),
        columns_(columns),
        last_(after) {}
  // A streaming reader of several categories at once: one `COPY (SELECT ... WHERE
  // category(stream_name) = ANY(...) ORDER BY global_position) TO STDOUT (FORMAT binary)` on
  // its own connection (which it owns), consumed a page at a time: one pass over the history
  // for all categories, no per-page query; the server produces rows while the client applies
  // the previous ones; memory stays bounded by the page plus the socket buffers. A message of
  // heads[i].category is returned only up to heads[i].head, with source i.
  static CategoryReader Streaming(PgConnection conn, std::vector<CategoryHead> heads, int page_size,
                                  ReadColumns columns);
  // The same over global positions in (after, until] only, on `conn` (not owned; one COPY at a
  // time per connection).
  static CategoryReader StreamingRange(PgConnection* conn, std::vector<CategoryHead> heads,
                                       int64_t after, int64_t until, int page_size,
                                       ReadColumns columns);
  // Streaming, for a reader read only this way: the next page, null at the end.
  absl::StatusOr<std::shared_ptr<const MessagePage>> NextPage();

  // Makes sure a current message is available (fetching the next page when needed).
  // Returns false when the category is exhausted.
  absl::StatusOr<bool> Ready();
  // The current message; only valid after Ready() returned true. `source` is the reader's
  // index (a streaming reader gives the index of the message's category instead).
  MessageRef Current(int source) const {
    return MessageRef{page_, row_, streaming_ ? page_->Source(row_) : source};
  }
  int64_t CurrentPosition() const { return page_->GlobalPosition(row_); }
  void Advance() { ++row_; }
  const std::string& category() const { return category_; }

 private:
  absl::StatusOr<bool> ReadyStreaming();
  absl::Status StartCopy();
  // Streaming: keeps the page's last row when it is within its category's head (and sets its
  // source); false when the row belongs to none of the categories.
  bool KeepLastRow(MessagePage& page) const;

  std::unique_ptr<PgConnection> owned_;  // the streaming reader's connection
  bool streaming_ = false;
  bool copy_started_ = false;
  bool header_seen_ = false;
  size_t last_page_bytes_ = 0;
  PgConnection* conn_;
  std::string category_;
  std::vector<CategoryHead> heads_;  // streaming: the categories and their heads
  int64_t head_;
  int page_size_;
  ReadColumns columns_;
  int64_t last_ = 0;
  int64_t after_ = 0;  // streaming: only positions above
  bool exhausted_ = false;
  std::shared_ptr<const MessagePage> page_;
  int row_ = 0;
};

// Messages in global_position order, one at a time.
class MessageSource {
 public:
  virtual ~MessageSource() = default;
  // The next message, or nullopt at the end.
  virtual absl::StatusOr<std::optional<MessageRef>> Next() = 0;
};

// Merges category readers in global_position order.
class MessageMerger : public MessageSource {
 public:
  explicit MessageMerger(std::vector<CategoryReader> readers) : readers_(std::move(readers)) {}
  absl::StatusOr<std::optional<MessageRef>> Next() override;

 private:
  std::vector<CategoryReader> readers_;
};

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_MESSAGE_READER_H_
