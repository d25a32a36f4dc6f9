#include "server/rebuild/sql_lowering.h"

#include <algorithm>
#include <regex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/rebuild/sql_waves.h"

namespace protean_admin::rebuild {
namespace {

using Tokens = std::vector<std::string>;

absl::Status Refuse(std::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

// A VALUES expression or an assigned literal.
struct LoweredValue {
  enum class Kind { kParameter, kString, kNumber, kNull };
  Kind kind = Kind::kNull;
  int parameter = -1;  // 0-based, kParameter
  std::string text;    // the literal's value (a string unquoted)
  std::string cast;    // kParameter: the pg_type name it is cast to ("" when bare)

  bool literal() const { return kind != Kind::kParameter; }
  bool operator==(const LoweredValue&) const = default;
};

// The pg_type name of a cast's type (the tokens after AS or ::), "" when not one of ours.
std::string CastType(const Tokens& words) {
  static const auto* const kNames =
      new std::vector<std::pair<std::string, std::string>>{{"double precision", "float8"},
                                                           {"float8", "float8"},
                                                           {"float", "float8"},
                                                           {"real", "float4"},
                                                           {"float4", "float4"},
                                                           {"integer", "int4"},
                                                           {"int", "int4"},
                                                           {"int4", "int4"},
                                                           {"smallint", "int2"},
                                                           {"int2", "int2"},
                                                           {"bigint", "int8"},
                                                           {"int8", "int8"},
                                                           {"numeric", "numeric"},
                                                           {"decimal", "numeric"},
                                                           {"text", "text"},
                                                           {"varchar", "varchar"},
                                                           {"character varying", "varchar"}};
  const std::string name = absl::StrJoin(words, " ");
  for (const auto& [spelling, type] : *kNames) {
    if (spelling == name) return type;
  }
  return "";
}

bool IsParameter(const std::string& token) {
  return token.size() > 1 && token[0] == '$' &&
         std::all_of(token.begin() + 1, token.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsNumber(const std::string& token) {
  const size_t digit = token.size() > 1 && token[0] == '.' ? 1 : 0;
  return !token.empty() && std::isdigit(static_cast<unsigned char>(token[digit]));
}

LoweredValue Parameter(const std::string& token, std::string cast) {
  LoweredValue out;
  out.kind = LoweredValue::Kind::kParameter;
  out.parameter = std::stoi(token.substr(1)) - 1;
  out.cast = std::move(cast);
  return out;
}

// A parameter (bare, CAST(p AS type) or p::type) or a literal (string, number, -number, NULL).
absl::StatusOr<LoweredValue> ParseValue(const Tokens& v) {
  const size_t n = v.size();
  if (n == 1 && IsParameter(v[0])) return Parameter(v[0], "");
  std::string cast;
  if (n >= 6 && v[0] == "cast" && v[1] == "(" && IsParameter(v[2]) && v[3] == "as" &&
      v[n - 1] == ")") {
    cast = CastType(Tokens(v.begin() + 4, v.end() - 1));
    if (!cast.empty()) return Parameter(v[2], cast);
  } else if (n >= 3 && IsParameter(v[0]) && v[1] == "::") {
    cast = CastType(Tokens(v.begin() + 2, v.end()));
    if (!cast.empty()) return Parameter(v[0], cast);
  }
  LoweredValue out;
  if (n == 1 && v[0] == "null") return out;
  if (n == 1 && v[0].size() >= 2 && v[0].front() == '\'') {
    out.kind = LoweredValue::Kind::kString;
    for (size_t i = 1; i + 1 < v[0].size(); ++i) {
      out.text += v[0][i];
      if (v[0][i] == '\'') ++i;  // '' is one quote
    }
    return out;
  }
  if ((n == 1 || (n == 2 && v[0] == "-")) && IsNumber(v[n - 1])) {
    out.kind = LoweredValue::Kind::kNumber;
    out.text = n == 2 ? "-" + v[1] : v[0];
    return out;
  }
  return Refuse("a value that is not a parameter (bare or cast to a column type) or a literal");
}

bool IsInteger(std::string_view s) {
  static const std::regex kInteger("-?[0-9]+");
  return std::regex_match(s.begin(), s.end(), kInteger);
}

bool IsDecimal(std::string_view s) {
  static const std::regex kDecimal("-?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
  return std::regex_match(s.begin(), s.end(), kDecimal);
}

bool IsTextType(const storage::ColumnInfo& c) {
  return c.type_name == "text" || c.type_name == "varchar";
}

// Whether `value` is read into column `c` exactly as the action form reads it.
absl::Status CheckValue(const storage::ColumnInfo& c, const ColumnSpec& spec,
                        const LoweredValue& value) {
  const std::string where = absl::StrCat(" for column ", c.name);
  if (value.kind == LoweredValue::Kind::kParameter) {
    if (!value.cast.empty() && value.cast != c.type_name) {
      return Refuse(absl::StrCat("a cast to ", value.cast, where, " of type ", c.type_sql));
    }
    return absl::OkStatus();
  }
  if (value.kind == LoweredValue::Kind::kNull) return absl::OkStatus();
  if (value.kind == LoweredValue::Kind::kNumber) {
    // A decimal literal is numeric: assigned to an integer column it would be rounded.
    const bool fits = spec.numeric_kind() &&
                      (IsInteger(value.text) ||
                       (IsDecimal(value.text) && spec.kind != ColumnKind::kInt16 &&
                        spec.kind != ColumnKind::kInt32 && spec.kind != ColumnKind::kInt64));
    if (!fits) return Refuse(absl::StrCat("the number ", value.text, where));
  }
  if (IsTextType(c)) {
    std::string text = value.text, error;
    if (!CheckTextCell(LuaColumn::From(c).type, text, error)) return Refuse(error);
    return absl::OkStatus();
  }
  absl::Status read = CoerceValue(spec, value.text).status();
  if (!read.ok()) return Refuse(absl::StrCat(read.message(), where));
  return absl::OkStatus();
}

enum class AssignmentKind { kNone, kExcluded, kLiteral, kIncrement };

// What `column = expression` does, with its literal for kLiteral.
absl::StatusOr<AssignmentKind> ParseAssignment(const std::string& column, const Tokens& e,
                                               const std::string& table, const std::string& alias,
                                               LoweredValue& literal) {
  if (e == Tokens{"excluded", ".", column}) return AssignmentKind::kExcluded;
  const Tokens tail = {",", "0", ")", "+", "excluded", ".", column};
  for (const std::string& row : {table, alias}) {
    if (row.empty()) continue;
    Tokens increment = {"coalesce", "(", row, ".", column};
    increment.insert(increment.end(), tail.begin(), tail.end());
    if (e == increment) return AssignmentKind::kIncrement;
  }
  absl::StatusOr<LoweredValue> value = ParseValue(e);
  if (value.ok() && value->literal()) {
    literal = *value;
    return AssignmentKind::kLiteral;
  }
  return Refuse(absl::StrCat("the assignment to ", column, " is not EXCLUDED.", column,
                             ", a literal or coalesce(", column, ", 0) + EXCLUDED.", column));
}

// The columns a lowered handler may write: read in memory exactly as PostgreSQL reads them.
absl::Status CheckColumn(const storage::ColumnInfo& c, const ColumnSpec& spec, bool increment) {
  static const auto* const kTypes = new std::vector<std::string>{
      "int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar"};
  if (c.generated || std::find(kTypes->begin(), kTypes->end(), c.type_name) == kTypes->end()) {
    return Refuse(absl::StrCat("column ", c.name, " of type ", c.type_sql));
  }
  if (increment && (!spec.numeric_kind() || spec.precision >= 0)) {
    return Refuse(absl::StrCat("an increment of column ", c.name, " of type ", c.type_sql));
  }
  return absl::OkStatus();
}

domain::Value ActionValue(const domain::SqlStatement& statement, const LoweredValue& v) {
  domain::Value out;
  if (v.kind == LoweredValue::Kind::kParameter) {
    out.parameter = statement.parameters[v.parameter];
  } else if (v.kind != LoweredValue::Kind::kNull) {
    out.literal = v.text;  // a string: every column type reads its text (action_values.h)
  }
  return out;
}

struct Builder {
  const domain::SqlStatement& statement;
  const storage::TableInfo& table;
  LoweredHandler out;

  void Add(std::vector<std::pair<std::string, domain::Value>>& list, std::vector<int>& indexes,
           int column, const LoweredValue& value) {
    list.emplace_back(table.columns[column].name, ActionValue(statement, value));
    indexes.push_back(column);
  }
  // Column `c` inserted with `value`, assigned as `kind` (`literal` for kLiteral).
  absl::Status Inserted(int c, const LoweredValue& value, AssignmentKind kind,
                        const LoweredValue& literal) {
    domain::Handler& a = out.action;
    HandlerColumns& hc = out.columns;
    if (kind == AssignmentKind::kExcluded ||
        (kind == AssignmentKind::kLiteral && literal == value)) {
      Add(a.set, hc.set, c, value);
      return absl::OkStatus();
    }
    Add(a.insert, hc.insert, c, value);
    out.check_insert.push_back(kind != AssignmentKind::kIncrement &&
                               value.kind == LoweredValue::Kind::kParameter);
    if (kind == AssignmentKind::kLiteral) Add(a.update, hc.update, c, literal);
    if (kind == AssignmentKind::kIncrement) {
      if (value.kind == LoweredValue::Kind::kNull) return Refuse("an increment by NULL");
      Add(a.increment, hc.increment, c, value);
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<LoweredHandler> LowerSqlHandler(const domain::Handler& handler,
                                               const storage::TableInfo& table,
                                               std::string_view key) {
  if (handler.sql.size() != 1) return Refuse("more than one statement");
  const domain::SqlStatement& statement = handler.sql[0];
  std::vector<std::string> names;
  for (const storage::ColumnInfo& c : table.columns) names.push_back(absl::AsciiStrToLower(c.name));
  ASSIGN_OR_RETURN(UpsertParts parts, SplitUpsert(statement, table.table, key, names));
  if (parts.has_where) return Refuse("DO UPDATE SET ... WHERE");
  Builder b{statement, table, {}};
  b.out.action.event = handler.event;
  b.out.action.where = handler.where;
  b.out.action.form = domain::Handler::Form::kAction;
  b.out.action.key.parameter = statement.parameters[parts.key_parameter];
  const std::string lower_key = absl::AsciiStrToLower(std::string(key));
  const std::string lower_table = absl::AsciiStrToLower(table.table);
  std::vector<bool> inserted(names.size(), false);
  for (size_t i = 0; i < parts.columns.size(); ++i) {
    const int c =
        static_cast<int>(std::find(names.begin(), names.end(), parts.columns[i]) - names.begin());
    if (c >= static_cast<int>(names.size())) return Refuse("an unknown column");
    inserted[c] = true;
    if (parts.columns[i] == lower_key) continue;
    ASSIGN_OR_RETURN(LoweredValue value, ParseValue(parts.values[i]));
    AssignmentKind kind = AssignmentKind::kNone;
    LoweredValue literal;
    for (const auto& [column, expression] : parts.assignments) {
      if (column != parts.columns[i]) continue;
      ASSIGN_OR_RETURN(kind,
                       ParseAssignment(column, expression, lower_table, parts.alias, literal));
    }
    const ColumnSpec spec = ColumnSpec::From(table.columns[c]);
    RETURN_IF_ERROR(CheckColumn(table.columns[c], spec, kind == AssignmentKind::kIncrement));
    RETURN_IF_ERROR(CheckValue(table.columns[c], spec, value));
    if (kind == AssignmentKind::kLiteral)
      RETURN_IF_ERROR(CheckValue(table.columns[c], spec, literal));
    RETURN_IF_ERROR(b.Inserted(c, value, kind, literal));
  }
  if (b.out.action.set.empty() && b.out.action.insert.empty()) {
    return Refuse("no column besides the key is inserted");
  }
  // Assignments to columns not inserted: literals only (EXCLUDED.c would be c's default).
  for (const auto& [column, expression] : parts.assignments) {
    const int c = static_cast<int>(std::find(names.begin(), names.end(), column) - names.begin());
    if (c >= static_cast<int>(names.size()) || column == lower_key) {
      return Refuse(absl::StrCat("the assignment to ", column));
    }
    if (inserted[c]) continue;
    LoweredValue literal;
    absl::StatusOr<LoweredValue> value = ParseValue(expression);
    if (!value.ok() || !value->literal()) {
      return Refuse(absl::StrCat("the assignment to ", column, ", which is not inserted"));
    }
    const ColumnSpec spec = ColumnSpec::From(table.columns[c]);
    RETURN_IF_ERROR(CheckColumn(table.columns[c], spec, false));
    RETURN_IF_ERROR(CheckValue(table.columns[c], spec, *value));
    b.Add(b.out.action.update, b.out.columns.update, c, *value);
  }
  b.out.text_types.resize(table.columns.size());
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (IsTextType(table.columns[c])) b.out.text_types[c] = LuaColumn::From(table.columns[c]).type;
  }
  return std::move(b.out);
}

absl::Status FinishLoweredItem(const LoweredHandler& lowered, const std::vector<ColumnSpec>& specs,
                               ActionItem& item) {
  // coalesce(c, 0) + NULL is NULL: the column is assigned NULL (the row's insert value is the
  // same NULL).
  for (size_t i = 0; i < item.increment.size();) {
    if (!item.increment[i].second.is_null()) {
      ++i;
      continue;
    }
    item.update.push_back(std::move(item.increment[i]));
    item.increment.erase(item.increment.begin() + static_cast<std::ptrdiff_t>(i));
  }
  std::string error;
  for (auto* list : {&item.set, &item.insert, &item.update}) {
    for (auto& [index, value] : *list) {
      const std::optional<LuaValueType>& text = lowered.text_types[index];
      if (value.is_null() || !text.has_value()) continue;
      if (!CheckTextCell(*text, value.text, error)) return absl::InvalidArgumentError(error);
    }
  }
  for (size_t i = 0; i < item.insert.size(); ++i) {
    const auto& [index, value] = item.insert[i];
    if (!lowered.check_insert[i] || value.is_null() || !specs[index].numeric_kind()) continue;
    RETURN_IF_ERROR(CoerceValue(specs[index], value.text).status());
  }
  return absl::OkStatus();
}

}  // namespace protean_admin::rebuild
