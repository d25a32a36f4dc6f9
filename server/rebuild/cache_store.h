#ifndef PROTEAN_ADMIN_SERVER_REBUILD_CACHE_STORE_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_CACHE_STORE_H_

// A cache-backed projection as a storage::ProjectionStore (docs/protean-compatibility.md §5,
// issue 7): each row is a JSON document at "<underscore(Name)>:::<key>" in Redis, written
// with the cache's TTL; truncation SCANs "<prefix>:::*" and UNLINKs in batches.
//
// Column types decide the JSON types of the document's fields: integer, float and numeric
// columns are JSON numbers (written exactly as the column's text, so numeric keeps its
// digits), boolean columns true/false, json/jsonb columns embedded JSON, array columns
// (text[], json[], ...) JSON arrays of their items (each item as its element type gives it;
// nested for more dimensions), everything else strings; NULL is null. Cells hold what a
// PostgreSQL table would (array columns their array text), so the action form folds both
// kinds of projection alike. Every column of the "table" is a field of every document.
// The table of a cache-backed projection (CacheTableInfo): its declared `columns` when it
// has any (the key column is added as text when not declared); otherwise the key column and
// every column its action handlers name, in order of first mention: incremented columns are
// double precision (float8), the others text.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/model.h"
#include "storage/projection_store.h"
#include "storage/projection_table.h"
#include "storage/redis_client.h"

namespace protean_admin::rebuild {

// A declared column as PostgreSQL would describe it (type_name, typmod) for the SQL type
// text of domain.toml: "double precision" -> float8, "numeric(12,2)" -> numeric with its
// typmod, "integer" -> int4, "boolean" -> bool, "varchar(255)" -> varchar, "text[]" -> _text,
// "jsonb[]" -> _jsonb, ...
storage::ColumnInfo CacheColumn(std::string name, std::string_view sql_type);

// The table of a cache-backed projection (see above). FailedPrecondition when it is not
// cache-backed.
absl::StatusOr<storage::TableInfo> CacheTableInfo(const domain::Domain& domain,
                                                  const domain::Projection& projection);

class RedisProjectionStore : public storage::ProjectionStore {
 public:
  // Finds the projection's cache, connects to it (Unavailable "cannot connect to Redis at
  // host:port/db: ..." before anything is touched) and builds its table.
  static absl::StatusOr<std::unique_ptr<RedisProjectionStore>> Open(
      const domain::Domain& domain, const domain::Projection& projection,
      int truncate_batch = 1000);

  RedisProjectionStore(storage::RedisClient client, storage::TableInfo table, int key_index,
                       std::string prefix, int64_t ttl_seconds, int truncate_batch = 1000);

  const storage::TableInfo& table() const override { return table_; }
  int key_index() const override { return key_index_; }
  // Removes every key "<prefix>:::*" (SCAN + UNLINK in batches); none is not an error.
  absl::Status Truncate() override;
  // Canonical keys are the keys as given. Rows come from the JSON documents (fields that
  // are not columns are ignored; missing fields are NULL). A document that is not a JSON
  // object is DataLoss naming the Redis key.
  absl::StatusOr<storage::FetchResult> Fetch(const std::vector<std::string>& keys) override;
  // One pipelined WriteMany: UNLINK for deleted keys that are not rewritten, SET ... EX ttl
  // of the document for each row.
  absl::Status Write(const storage::WriteSet& writes) override;

  storage::RedisClient& client() { return client_; }
  const std::string& prefix() const { return prefix_; }
  int64_t ttl_seconds() const { return ttl_seconds_; }
  // Keys removed by the last Truncate.
  int64_t truncated_keys() const { return truncated_keys_; }

  // The JSON document of a row (one cell per column of `table`).
  static std::string ToDocument(const storage::TableInfo& table,
                                const std::vector<storage::Cell>& cells);
  // The cells of a JSON document (InvalidArgument when it is not a JSON object).
  static absl::StatusOr<std::vector<storage::Cell>> FromDocument(const storage::TableInfo& table,
                                                                 std::string_view json);

 private:
  storage::RedisClient client_;
  storage::TableInfo table_;
  int key_index_;
  std::string prefix_;
  int64_t ttl_seconds_;
  int truncate_batch_;
  int64_t truncated_keys_ = 0;
};

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_CACHE_STORE_H_
