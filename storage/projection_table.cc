#include "storage/projection_table.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace protean_admin::storage {

std::string QuoteIdent(std::string_view identifier) {
  std::string out = "\"";
  for (char c : identifier) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

int TableInfo::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<std::optional<TableInfo>> LoadTableInfo(PgConnection& conn, std::string_view schema,
                                                       std::string_view table) {
  std::string regclass =
      schema.empty() ? QuoteIdent(table) : absl::StrCat(QuoteIdent(schema), ".", QuoteIdent(table));
  auto r = conn.ExecParams(
      "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
      "t.typname, a.atttypmod, a.attgenerated <> '' "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_type t ON t.oid = a.atttypid "
      "WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p') AND a.attnum > 0 "
      "AND NOT a.attisdropped ORDER BY a.attnum",
      {regclass});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return std::optional<TableInfo>();
  TableInfo info;
  info.schema = std::string(r->Get(0, 0));
  info.table = std::string(r->Get(0, 1));
  info.qualified = absl::StrCat(QuoteIdent(info.schema), ".", QuoteIdent(info.table));
  for (int i = 0; i < r->rows(); ++i) {
    ColumnInfo column;
    column.name = std::string(r->Get(i, 2));
    column.type_sql = std::string(r->Get(i, 3));
    column.type_name = std::string(r->Get(i, 4));
    column.typmod =
        static_cast<int32_t>(std::strtol(std::string(r->Get(i, 5)).c_str(), nullptr, 10));
    column.generated = r->Get(i, 6) == "t";
    info.columns.push_back(std::move(column));
  }
  return std::optional<TableInfo>(std::move(info));
}

absl::Status CreateTable(PgConnection& conn, std::string_view schema, std::string_view table,
                         const std::vector<std::pair<std::string, std::string>>& columns,
                         std::string_view key) {
  std::string sql = "CREATE TABLE IF NOT EXISTS ";
  if (!schema.empty()) absl::StrAppend(&sql, QuoteIdent(schema), ".");
  absl::StrAppend(&sql, QuoteIdent(table), " (");
  bool key_declared = false;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) sql += ", ";
    // The type is spliced as it is: the domain loader accepts only a type name with optional
    // modifiers and array brackets (domain/sql_type.h).
    absl::StrAppend(&sql, QuoteIdent(columns[i].first), " ", columns[i].second);
    if (columns[i].first == key) key_declared = true;
  }
  if (key_declared) absl::StrAppend(&sql, ", PRIMARY KEY (", QuoteIdent(key), ")");
  sql += ")";
  auto r = conn.Exec(sql);
  return r.ok() ? absl::OkStatus() : r.status();
}

namespace {

// A declared type as a cast target: the serial pseudo-types exist only in CREATE TABLE.
std::string CastableType(std::string_view declared) {
  std::string lower = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(declared.data(), declared.size())));
  if (lower == "serial" || lower == "serial4") return "integer";
  if (lower == "bigserial" || lower == "serial8") return "bigint";
  if (lower == "smallserial" || lower == "serial2") return "smallint";
  return std::string(declared);
}

// PostgreSQL's spelling (format_type) of each declared type, in order.
absl::StatusOr<std::vector<std::string>> FormatDeclaredTypes(
    PgConnection& conn, const std::vector<std::pair<std::string, std::string>>& columns) {
  std::string probe = "SELECT ";
  for (size_t i = 0; i < columns.size(); ++i) {
    // Declared types are validated when the domain is loaded (domain/loader.cc).
    absl::StrAppend(&probe, i > 0 ? ", " : "", "NULL::", CastableType(columns[i].second));
  }
  auto r = conn.Exec(absl::StrCat(probe, " LIMIT 0"));
  if (!r.ok()) return r.status();
  std::vector<std::string> oids, mods;
  for (int i = 0; i < r->columns(); ++i) {
    oids.push_back(absl::StrCat(PQftype(r->get(), i)));
    mods.push_back(absl::StrCat(PQfmod(r->get(), i)));
  }
  auto formatted = conn.ExecParams(
      "SELECT format_type(t.oid, t.mod) FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY "
      "AS t(oid, mod, n) ORDER BY n",
      {absl::StrCat("{", absl::StrJoin(oids, ","), "}"),
       absl::StrCat("{", absl::StrJoin(mods, ","), "}")});
  if (!formatted.ok()) return formatted.status();
  std::vector<std::string> out;
  for (int i = 0; i < formatted->rows(); ++i) out.emplace_back(formatted->Get(i, 0));
  return out;
}

}  // namespace

absl::Status CheckDeclaredColumns(PgConnection& conn, const TableInfo& table,
                                  const std::vector<std::pair<std::string, std::string>>& columns) {
  if (columns.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<std::string>> declared = FormatDeclaredTypes(conn, columns);
  if (!declared.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("a declared column type is not known to ",
                                                      "PostgreSQL: ", declared.status().message()));
  }
  std::vector<std::string> differences;
  for (size_t i = 0; i < columns.size(); ++i) {
    const int index = table.ColumnIndex(columns[i].first);
    if (index < 0) {
      differences.push_back(absl::StrCat("column ", columns[i].first, " (", (*declared)[i],
                                         ") is missing from the table"));
    } else if (table.columns[index].type_sql != (*declared)[i]) {
      differences.push_back(absl::StrCat("column ", columns[i].first, " is ",
                                         table.columns[index].type_sql, " in the table, declared ",
                                         (*declared)[i]));
    }
  }
  if (differences.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("table ", table.qualified,
                   " does not match its declared columns: ", absl::StrJoin(differences, "; "),
                   " (alter or drop the table, or change `columns` in the domain)"));
}

}  // namespace protean_admin::storage
