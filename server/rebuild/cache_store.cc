#include "server/rebuild/cache_store.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/strings.h"
#include "domain/env_substitution.h"
#include "server/rebuild/pg_array.h"

namespace protean_admin::rebuild {
namespace {

using storage::Cell;
using storage::ColumnInfo;
using storage::TableInfo;

enum class JsonKind { kString, kNumber, kBool, kJson, kArray };

bool IsArray(const ColumnInfo& column) {
  return column.type_name.size() > 1 && column.type_name[0] == '_';
}

// The element of an array column (pg_type names arrays "_<element>").
ColumnInfo ElementOf(const ColumnInfo& column) {
  ColumnInfo element = column;
  element.type_name = column.type_name.substr(1);
  return element;
}

JsonKind KindOf(const ColumnInfo& column) {
  const std::string& t = column.type_name;
  if (IsArray(column)) return JsonKind::kArray;
  if (t == "int2" || t == "int4" || t == "int8" || t == "float4" || t == "float8" ||
      t == "numeric") {
    return JsonKind::kNumber;
  }
  if (t == "bool") return JsonKind::kBool;
  if (t == "json" || t == "jsonb") return JsonKind::kJson;
  return JsonKind::kString;
}

std::string Lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

void AppendJsonString(std::string& out, std::string_view text) {
  // error_handler_t::replace: invalid UTF-8 becomes U+FFFD instead of throwing.
  out += nlohmann::json(std::string(text))
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AppendValue(std::string& out, const ColumnInfo& column, const Cell& cell);

// An array's text as a JSON array (nested for more dimensions), each item as its element
// type writes it; text that is not an array literal stays a string.
void AppendArray(std::string& out, const ColumnInfo& column, const std::string& text) {
  thread_local std::vector<PgArrayToken> tokens;
  if (!ParsePgArray(text, tokens).ok()) {
    AppendJsonString(out, text);
    return;
  }
  const ColumnInfo element = ElementOf(column);
  bool first = true;
  for (PgArrayToken& token : tokens) {
    if (token.kind != PgArrayToken::Kind::kEnd && !first) out += ',';
    first = token.kind == PgArrayToken::Kind::kBegin;
    switch (token.kind) {
      case PgArrayToken::Kind::kBegin:
        out += '[';
        break;
      case PgArrayToken::Kind::kEnd:
        out += ']';
        break;
      case PgArrayToken::Kind::kNull:
        out += "null";
        break;
      case PgArrayToken::Kind::kItem:
        AppendValue(out, element, std::move(token.text));
        break;
    }
  }
}

void AppendValue(std::string& out, const ColumnInfo& column, const Cell& cell) {
  if (!cell.has_value()) {
    out += "null";
    return;
  }
  const std::string& text = *cell;
  switch (KindOf(column)) {
    case JsonKind::kNumber: {
      std::string_view trimmed = StripAsciiWhitespace(text);
      if (IsJsonNumber(trimmed)) {
        out += trimmed;
      } else {
        AppendJsonString(out, text);  // NaN, Infinity: not JSON numbers
      }
      return;
    }
    case JsonKind::kBool: {
      const std::string lower = Lower(StripAsciiWhitespace(text));
      if (lower == "t" || lower == "true" || lower == "y" || lower == "yes" || lower == "on" ||
          lower == "1") {
        out += "true";
      } else if (lower == "f" || lower == "false" || lower == "n" || lower == "no" ||
                 lower == "off" || lower == "0") {
        out += "false";
      } else {
        AppendJsonString(out, text);
      }
      return;
    }
    case JsonKind::kJson:
      if (nlohmann::json::accept(text)) {
        out += StripAsciiWhitespace(text);
      } else {
        AppendJsonString(out, text);
      }
      return;
    case JsonKind::kArray:
      AppendArray(out, column, text);
      return;
    case JsonKind::kString:
      AppendJsonString(out, text);
      return;
  }
}

void AddColumn(TableInfo& table, ColumnInfo column) { table.columns.push_back(std::move(column)); }

}  // namespace

ColumnInfo CacheColumn(std::string name, std::string_view sql_type) {
  ColumnInfo column;
  column.name = std::move(name);
  column.type_sql = std::string(StripAsciiWhitespace(sql_type));
  std::string lower = Lower(column.type_sql);
  // Base name without arguments, single spaces.
  std::string base;
  std::string args;
  const size_t paren = lower.find('(');
  if (paren != std::string::npos) {
    const size_t close = lower.find(')', paren);
    args =
        lower.substr(paren + 1, close == std::string::npos ? std::string::npos : close - paren - 1);
    base = lower.substr(0, paren) + (close == std::string::npos ? "" : lower.substr(close + 1));
  } else {
    base = lower;
  }
  std::string collapsed;
  for (char c : base) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!collapsed.empty() && collapsed.back() != ' ') collapsed.push_back(' ');
    } else {
      collapsed.push_back(c);
    }
  }
  base = std::string(StripAsciiWhitespace(collapsed));

  if (base.size() > 2 && base.substr(base.size() - 2) == "[]") {
    // As PostgreSQL names it: "_" and the element's name (text[] -> _text, jsonb[] -> _jsonb).
    std::string element_sql = column.type_sql;
    while (!element_sql.empty() && (element_sql.back() == ']' || element_sql.back() == '[' ||
                                    std::isspace(static_cast<unsigned char>(element_sql.back())))) {
      element_sql.pop_back();
    }
    ColumnInfo element = CacheColumn(column.name, element_sql);
    column.type_name = "_" + element.type_name;
    column.typmod = element.typmod;
  } else if (base == "double precision" || base == "float8" ||
             (base == "float" && (args.empty() || std::atoi(args.c_str()) > 24))) {
    column.type_name = "float8";
  } else if (base == "real" || base == "float4" || base == "float") {
    column.type_name = "float4";
  } else if (base == "integer" || base == "int" || base == "int4" || base == "serial" ||
             base == "serial4") {
    column.type_name = "int4";
  } else if (base == "bigint" || base == "int8" || base == "bigserial" || base == "serial8") {
    column.type_name = "int8";
  } else if (base == "smallint" || base == "int2" || base == "smallserial" || base == "serial2") {
    column.type_name = "int2";
  } else if (base == "numeric" || base == "decimal") {
    column.type_name = "numeric";
    if (!args.empty()) {
      const size_t comma = args.find(',');
      const int precision = std::atoi(args.substr(0, comma).c_str());
      const int scale = comma == std::string::npos ? 0 : std::atoi(args.substr(comma + 1).c_str());
      if (precision > 0) column.typmod = ((precision << 16) | (scale & 0x7ff)) + 4;
    }
  } else if (base == "boolean" || base == "bool") {
    column.type_name = "bool";
  } else if (base == "json" || base == "jsonb") {
    column.type_name = base;
  } else if (base == "character varying" || base == "varchar") {
    column.type_name = "varchar";
  } else if (base == "character" || base == "char" || base == "bpchar") {
    column.type_name = "bpchar";
  } else {
    column.type_name = base;  // text, uuid, timestamp ...: strings in the document
  }
  return column;
}

absl::StatusOr<TableInfo> CacheTableInfo(const domain::Domain& domain,
                                         const domain::Projection& projection) {
  if (!projection.cache_backed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Projection '", projection.name, "' is not cache-backed"));
  }
  TableInfo table;
  table.table = projection.cache_prefix;
  table.qualified = absl::StrCat(projection.cache_prefix, ":::*");
  if (!projection.columns.empty()) {
    if (std::none_of(projection.columns.begin(), projection.columns.end(),
                     [&](const auto& c) { return c.first == projection.key; })) {
      AddColumn(table, CacheColumn(projection.key, "text"));
    }
    for (const auto& [name, type] : projection.columns) AddColumn(table, CacheColumn(name, type));
    return table;
  }
  AddColumn(table, CacheColumn(projection.key, "text"));
  for (const domain::Projector* projector : domain.ProjectorsFor(projection.name)) {
    for (const domain::Handler& handler : projector->handlers) {
      if (handler.form != domain::Handler::Form::kAction) continue;
      for (const auto* list : {&handler.insert, &handler.set, &handler.update}) {
        for (const auto& [name, value] : *list) {
          if (table.ColumnIndex(name) < 0) AddColumn(table, CacheColumn(name, "text"));
        }
      }
      for (const auto& [name, value] : handler.increment) {
        const int index = table.ColumnIndex(name);
        if (index < 0) {
          AddColumn(table, CacheColumn(name, "double precision"));
        } else if (index != table.ColumnIndex(projection.key)) {
          table.columns[index] = CacheColumn(name, "double precision");
        }
      }
    }
  }
  return table;
}

absl::StatusOr<std::unique_ptr<RedisProjectionStore>> RedisProjectionStore::Open(
    const domain::Domain& domain, const domain::Projection& projection, int truncate_batch) {
  if (!projection.cache_backed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Projection '", projection.name, "' is not cache-backed"));
  }
  const domain::CacheConfig* cache = domain.FindCache(*projection.cache);
  if (cache == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("Projection '", projection.name, "': cache '",
                                                      *projection.cache, "' is not configured"));
  }
  if (cache->provider != "redis") {
    return absl::FailedPreconditionError(absl::StrCat("Projection '", projection.name, "': cache '",
                                                      cache->name, "' has provider \"",
                                                      cache->provider, "\", not \"redis\""));
  }
  absl::StatusOr<TableInfo> table = CacheTableInfo(domain, projection);
  if (!table.ok()) return table.status();
  const int key_index = table->ColumnIndex(projection.key);
  absl::StatusOr<storage::RedisClient> client = storage::RedisClient::Connect(cache->uri);
  if (!client.ok()) {
    return domain::WithUriNote(
        absl::Status(client.status().code(), absl::StrCat("Projection '", projection.name,
                                                          "': ", client.status().message())),
        cache->uri_note);
  }
  return std::make_unique<RedisProjectionStore>(
      std::move(*client), std::move(*table), key_index < 0 ? 0 : key_index, projection.cache_prefix,
      cache->ttl_seconds, truncate_batch);
}

RedisProjectionStore::RedisProjectionStore(storage::RedisClient client, TableInfo table,
                                           int key_index, std::string prefix, int64_t ttl_seconds,
                                           int truncate_batch)
    : client_(std::move(client)),
      table_(std::move(table)),
      key_index_(key_index),
      prefix_(std::move(prefix)),
      ttl_seconds_(ttl_seconds),
      truncate_batch_(truncate_batch) {}

absl::Status RedisProjectionStore::Truncate() {
  absl::StatusOr<int64_t> removed = client_.DeleteByPrefix(prefix_, truncate_batch_);
  if (!removed.ok()) return removed.status();
  truncated_keys_ = *removed;
  return absl::OkStatus();
}

std::string RedisProjectionStore::ToDocument(const TableInfo& table,
                                             const std::vector<Cell>& cells) {
  std::string out = "{";
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (c > 0) out += ',';
    AppendJsonString(out, table.columns[c].name);
    out += ':';
    AppendValue(out, table.columns[c], c < cells.size() ? cells[c] : std::nullopt);
  }
  out += '}';
  return out;
}

absl::StatusOr<std::vector<Cell>> RedisProjectionStore::FromDocument(const TableInfo& table,
                                                                     std::string_view json) {
  std::vector<Cell> cells(table.columns.size());
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json.data(), json.size());
  simdjson::ondemand::document doc;
  auto invalid = [](simdjson::error_code error) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object: ", simdjson::error_message(error)));
  };
  if (auto error = parser.iterate(padded).get(doc); error) return invalid(error);
  simdjson::ondemand::object object;
  if (auto error = doc.get_object().get(object); error) return invalid(error);
  for (auto field_result : object) {
    simdjson::ondemand::field field;
    if (auto error = std::move(field_result).get(field); error) return invalid(error);
    std::string_view name;
    if (auto error = field.unescaped_key().get(name); error) return invalid(error);
    const int index = table.ColumnIndex(name);
    simdjson::ondemand::value value = field.value();
    simdjson::ondemand::json_type type;
    if (auto error = value.type().get(type); error) return invalid(error);
    std::optional<std::string> cell;
    switch (type) {
      case simdjson::ondemand::json_type::number: {
        cell = std::string(StripAsciiWhitespace(value.raw_json_token()));
        break;
      }
      case simdjson::ondemand::json_type::string: {
        std::string_view text;
        if (auto error = value.get_string().get(text); error) return invalid(error);
        cell = std::string(text);
        break;
      }
      case simdjson::ondemand::json_type::boolean: {
        bool flag = false;
        if (auto error = value.get_bool().get(flag); error) return invalid(error);
        cell = flag ? "true" : "false";
        break;
      }
      case simdjson::ondemand::json_type::null: {
        bool is_null = false;
        if (auto error = value.is_null().get(is_null); error) return invalid(error);
        break;
      }
      case simdjson::ondemand::json_type::object:
      case simdjson::ondemand::json_type::array: {
        std::string_view text;
        if (auto error = simdjson::to_json_string(value).get(text); error) return invalid(error);
        cell = std::string(text);
        if (index >= 0 && IsArray(table.columns[index]) &&
            type == simdjson::ondemand::json_type::array) {
          // Written by AppendArray: back to the array's text.
          const std::string element = table.columns[index].type_name.substr(1);
          absl::StatusOr<std::string> literal =
              PgArrayLiteral(*cell, element == "json" || element == "jsonb");
          if (!literal.ok()) return literal.status();
          cell = *std::move(literal);
        }
        break;
      }
    }
    if (index >= 0) cells[index] = std::move(cell);
  }
  return cells;
}

absl::StatusOr<storage::FetchResult> RedisProjectionStore::Fetch(
    const std::vector<std::string>& keys) {
  storage::FetchResult out;
  out.canonical = keys;
  if (keys.empty()) return out;
  std::vector<std::string> redis_keys;
  redis_keys.reserve(keys.size());
  for (const std::string& key : keys) redis_keys.push_back(storage::CacheKey(prefix_, key));
  absl::StatusOr<std::vector<std::optional<std::string>>> docs = client_.GetMany(redis_keys);
  if (!docs.ok()) return docs.status();
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!(*docs)[i].has_value() || !seen.insert(keys[i]).second) continue;
    absl::StatusOr<std::vector<Cell>> cells = FromDocument(table_, *(*docs)[i]);
    if (!cells.ok()) {
      return absl::DataLossError(
          absl::StrCat("cache document ", redis_keys[i], ": ", cells.status().message()));
    }
    storage::StoredRow row;
    row.key = keys[i];
    row.cells = std::move(*cells);
    row.cells[key_index_] = keys[i];
    out.rows.push_back(std::move(row));
  }
  return out;
}

absl::Status RedisProjectionStore::Write(const storage::WriteSet& writes) {
  std::vector<std::pair<std::string, std::optional<std::string>>> ops;
  std::vector<std::pair<std::string, std::optional<std::string>>> sets;
  std::unordered_set<std::string> rewritten;
  std::vector<Cell> cells(table_.columns.size());
  for (const storage::RowGroup& group : writes.groups) {
    int key_position = -1;
    for (size_t i = 0; i < group.columns.size(); ++i) {
      if (group.columns[i] == key_index_) key_position = static_cast<int>(i);
    }
    if (key_position < 0 && !group.rows.empty()) {
      return absl::InternalError(absl::StrCat("cache-backed projection ", prefix_,
                                              ": a row written without its key column"));
    }
    for (const std::vector<Cell>& row : group.rows) {
      const Cell& key = row[key_position];
      if (!key.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cache-backed projection ", prefix_, ": a row with a NULL key"));
      }
      std::fill(cells.begin(), cells.end(), std::nullopt);
      for (size_t i = 0; i < group.columns.size() && i < row.size(); ++i) {
        cells[group.columns[i]] = row[i];
      }
      sets.emplace_back(storage::CacheKey(prefix_, *key), ToDocument(table_, cells));
      rewritten.insert(*key);
    }
  }
  // Deletes first (as the WriteSet orders them); a key rewritten below needs none: SET
  // replaces the document.
  for (const std::string& key : writes.delete_keys) {
    if (rewritten.count(key) == 0) ops.emplace_back(storage::CacheKey(prefix_, key), std::nullopt);
  }
  for (auto& set : sets) ops.push_back(std::move(set));
  if (ops.empty()) return absl::OkStatus();
  return client_.WriteMany(ops, ttl_seconds_);
}

}  // namespace protean_admin::rebuild
