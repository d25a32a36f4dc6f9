#ifndef PROTEAN_ADMIN_STORAGE_PROJECTION_STORE_H_
#define PROTEAN_ADMIN_STORAGE_PROJECTION_STORE_H_

// Where a projection's rows live, as the rebuild's action form needs it: truncate, fetch the
// current rows of some keys, write final row states. PostgreSQL tables implement it here
// (PgProjectionStore); a cache-backed store is one more implementation.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/pg_connection.h"
#include "storage/projection_table.h"

namespace protean_admin::storage {

using Cell = std::optional<std::string>;  // a column value as text; nullopt is NULL

struct StoredRow {
  std::string key;          // canonical key text
  std::vector<Cell> cells;  // one per column of the table, in table order
};

struct FetchResult {
  std::vector<std::string> canonical;  // per input key, its canonical text
  std::vector<StoredRow> rows;         // existing rows of those keys
};

// Rows written with the same column list (others get their defaults).
struct RowGroup {
  std::vector<int> columns;
  std::vector<std::vector<Cell>> rows;  // values for `columns`
};

struct WriteSet {
  std::vector<std::string> delete_keys;  // canonical keys whose existing rows go first
  std::vector<RowGroup> groups;          // then these rows are inserted
  bool empty() const { return delete_keys.empty() && groups.empty(); }
};

class ProjectionStore {
 public:
  virtual ~ProjectionStore() = default;
  virtual const TableInfo& table() const = 0;
  virtual int key_index() const = 0;
  // Removes every row. For a PostgreSQL table it is a `DELETE` in the caller's transaction:
  // transactional (a rollback restores every row) and readers keep seeing the old rows until
  // the caller commits; it takes no lock that blocks readers, unlike `TRUNCATE`
  // (docs/design.md §4). A store without transactions (Redis) removes the rows at once, and
  // the rebuild is then always in place.
  virtual absl::Status Truncate() = 0;
  // Canonicalises `keys` and fetches their rows. Fails when a key is not valid for the key
  // column's type, or when a key matches several rows.
  virtual absl::StatusOr<FetchResult> Fetch(const std::vector<std::string>& keys) = 0;
  virtual absl::Status Write(const WriteSet& writes) = 0;
};

class PgProjectionStore : public ProjectionStore {
 public:
  PgProjectionStore(PgConnection* conn, TableInfo table, int key_index);
  const TableInfo& table() const override { return table_; }
  int key_index() const override { return key_index_; }
  absl::Status Truncate() override;
  absl::StatusOr<FetchResult> Fetch(const std::vector<std::string>& keys) override;
  absl::Status Write(const WriteSet& writes) override;

 private:
  PgConnection* conn_;
  TableInfo table_;
  int key_index_;
  std::string fetch_sql_;
  std::string delete_sql_;
  std::string fetch_name_;
  bool fetch_prepared_ = false;
};

// A PostgreSQL array literal of texts: {"a","b\"c"}.
std::string TextArrayLiteral(const std::vector<std::string>& values);
// Appends one COPY text-format field (NULL as \N).
void AppendCopyField(std::string& out, const Cell& cell);

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_PROJECTION_STORE_H_
