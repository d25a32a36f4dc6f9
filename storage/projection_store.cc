#include "storage/projection_store.h"

#include <atomic>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace protean_admin::storage {

std::string TextArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

void AppendCopyField(std::string& out, const Cell& cell) {
  if (!cell) {
    out += "\\N";
    return;
  }
  for (char c : *cell) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

PgProjectionStore::PgProjectionStore(PgConnection* conn, TableInfo table, int key_index)
    : conn_(conn), table_(std::move(table)), key_index_(key_index) {
  const ColumnInfo& key = table_.columns[key_index_];
  std::string key_col = QuoteIdent(key.name);
  fetch_sql_ = absl::StrCat("SELECT k.i, k.i::", key.type_sql, "::text, (t.ctid IS NOT NULL)");
  for (const ColumnInfo& c : table_.columns)
    absl::StrAppend(&fetch_sql_, ", t.", QuoteIdent(c.name));
  absl::StrAppend(&fetch_sql_, " FROM unnest($1::text[]) AS k(i) LEFT JOIN ", table_.qualified,
                  " t ON t.", key_col, " = k.i::", key.type_sql);
  delete_sql_ = absl::StrCat("DELETE FROM ", table_.qualified, " WHERE ", key_col,
                             " = ANY($1::", key.type_sql, "[])");
}

absl::Status PgProjectionStore::Truncate() {
  auto r = conn_->Exec(absl::StrCat("DELETE FROM ", table_.qualified));
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::StatusOr<FetchResult> PgProjectionStore::Fetch(const std::vector<std::string>& keys) {
  FetchResult out;
  if (keys.empty()) return out;
  // Prepared once per store (PREPARE outlives savepoint rollbacks): one parse per rebuild
  // instead of one per batch.
  if (!fetch_prepared_) {
    static std::atomic<int64_t> counter{0};
    fetch_name_ = absl::StrCat("pa_fetch_", counter.fetch_add(1));
    absl::Status prepared = conn_->Prepare(fetch_name_, fetch_sql_);
    if (!prepared.ok()) return prepared;
    fetch_prepared_ = true;
  }
  auto r = conn_->ExecPrepared(fetch_name_, {TextArrayLiteral(keys)});
  if (!r.ok()) return r.status();
  out.canonical.reserve(keys.size());
  // Rows come back in no particular order: map input text -> canonical, and collect rows.
  std::vector<std::string> seen_inputs;
  size_t ncols = table_.columns.size();
  absl::flat_hash_map<std::string, std::string> canonical_of;
  absl::flat_hash_map<std::string, int> row_count;
  for (int i = 0; i < r->rows(); ++i) {
    std::string input(r->Get(i, 0));
    std::string canonical(r->Get(i, 1));
    if (r->Get(i, 2) == "t") {
      if (++row_count[input] > 1) {
        return absl::FailedPreconditionError(
            absl::StrCat("key ", canonical, " matches several rows of ", table_.qualified));
      }
      StoredRow row;
      row.key = canonical;
      row.cells.resize(ncols);
      for (size_t c = 0; c < ncols; ++c) {
        if (!r->IsNull(i, 3 + c)) row.cells[c] = std::string(r->Get(i, 3 + c));
      }
      out.rows.push_back(std::move(row));
    }
    canonical_of.emplace(std::move(input), std::move(canonical));
  }
  for (const std::string& key : keys) {
    auto it = canonical_of.find(key);
    out.canonical.push_back(it == canonical_of.end() ? key : it->second);
  }
  return out;
}

absl::Status PgProjectionStore::Write(const WriteSet& writes) {
  if (!writes.delete_keys.empty()) {
    auto r = conn_->ExecParams(delete_sql_, {TextArrayLiteral(writes.delete_keys)});
    if (!r.ok()) return r.status();
  }
  std::string data;
  for (const RowGroup& group : writes.groups) {
    if (group.rows.empty()) continue;
    std::string sql = absl::StrCat("COPY ", table_.qualified, " (");
    for (size_t i = 0; i < group.columns.size(); ++i) {
      if (i > 0) sql += ", ";
      sql += QuoteIdent(table_.columns[group.columns[i]].name);
    }
    sql += ") FROM STDIN";
    data.clear();
    for (const auto& row : group.rows) {
      for (size_t i = 0; i < row.size(); ++i) {
        if (i > 0) data += '\t';
        AppendCopyField(data, row[i]);
      }
      data += '\n';
    }
    absl::Status s = conn_->CopyIn(sql, data);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace protean_admin::storage
