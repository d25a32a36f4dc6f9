#include "server/rebuild/sql_statements.h"

#include <array>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/rebuild/action_values.h"

namespace protean_admin::rebuild {
namespace {

// Type OIDs of PostgreSQL's built-in types (stable across versions: pg_type.dat).
constexpr uint32_t kBoolOid = 16;
constexpr uint32_t kTextOid = 25;
constexpr uint32_t kJsonOid = 114;
constexpr uint32_t kNumericOid = 1700;
constexpr uint32_t kJsonbOid = 3802;

// What by-value parameters are checked with while planning, in this order: the first that
// lets the statement prepare is also what a NULL value takes.
constexpr std::array<uint32_t, 4> kStandIns = {kTextOid, kNumericOid, kJsonbOid, kBoolOid};

// Variants of one statement; more combinations of value types is an event failure.
constexpr size_t kMaxVariants = 64;

uint32_t TypeOfValue(const Datum& d) {
  switch (d.kind) {
    case Datum::Kind::kNumber:
      return kNumericOid;
    case Datum::Kind::kBool:
      return kBoolOid;
    case Datum::Kind::kJson:
      return kJsonbOid;
    case Datum::Kind::kString:
    case Datum::Kind::kNull:
      break;
  }
  return kTextOid;
}

bool IsJsonArray(const Datum& d) {
  return d.kind == Datum::Kind::kJson && !d.text.empty() && d.text[0] == '[';
}

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The byte offset of the `chars`-th character (0-based) of UTF-8 `text`.
size_t ByteOffset(std::string_view text, int chars) {
  size_t i = 0;
  for (int seen = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (seen++ == chars) return i;
  }
  return text.size();
}

size_t PlaceholderEnd(const domain::SqlStatement& s, size_t i) {
  size_t end = s.offsets[i] + 1;
  while (end < s.text.size() && s.text[end] >= '0' && s.text[end] <= '9') ++end;
  return end;
}

// The unmarked parameters inside the parentheses that follow a function name at `at`.
int MarkArguments(const domain::SqlStatement& s, size_t at, std::vector<bool>& by_value) {
  size_t open = at;
  while (open < s.text.size() && IsWordChar(s.text[open])) ++open;
  while (open < s.text.size() && s.text[open] == ' ') ++open;
  if (open >= s.text.size() || s.text[open] != '(') return 0;
  size_t close = open;
  for (int depth = 0; close < s.text.size(); ++close) {
    if (s.text[close] == '(') ++depth;
    if (s.text[close] == ')' && --depth == 0) break;
  }
  int marked = 0;
  for (size_t i = 0; i < s.offsets.size(); ++i) {
    if (!by_value[i] && s.offsets[i] > open && s.offsets[i] < close) {
      by_value[i] = true;
      ++marked;
    }
  }
  return marked;
}

// The unmarked parameters standing right before and right after the operator at `at`.
int MarkOperands(const domain::SqlStatement& s, size_t at, std::vector<bool>& by_value) {
  auto blank_between = [&](size_t from, size_t to) {
    for (size_t k = from; k < to; ++k) {
      if (s.text[k] != ' ' && s.text[k] != '\t' && s.text[k] != '\n') return false;
    }
    return true;
  };
  size_t op_end = at;
  while (op_end < s.text.size() && !IsWordChar(s.text[op_end]) &&
         std::string_view(" \t\n$()").find(s.text[op_end]) == std::string_view::npos) {
    ++op_end;
  }
  int marked = 0;
  for (size_t i = 0; i < s.offsets.size(); ++i) {
    const bool left = PlaceholderEnd(s, i) <= at && blank_between(PlaceholderEnd(s, i), at);
    const bool right = s.offsets[i] >= op_end && blank_between(op_end, s.offsets[i]);
    if (!by_value[i] && (left || right)) {
      by_value[i] = true;
      ++marked;
    }
  }
  return marked;
}

}  // namespace

bool IsParameterTypingError(const absl::Status& error) {
  const std::string state = storage::SqlState(error);
  if (state == "42P18" || state == "42P08") return true;  // indeterminate, ambiguous parameter
  if (state != "42725" && state != "42883" && state != "42804") return false;
  // Ambiguous or missing function/operator, or a polymorphic type, over untyped parameters.
  return absl::StrContains(storage::PgPrimaryMessage(error), "unknown");
}

int MarkUntypedParameters(const domain::SqlStatement& statement, const absl::Status& error,
                          std::vector<bool>& by_value) {
  const std::string message = storage::PgPrimaryMessage(error);
  if (size_t at = message.find("parameter $"); at != std::string::npos) {
    const size_t number = std::strtoul(message.c_str() + at + 11, nullptr, 10);
    if (number >= 1 && number <= by_value.size() && !by_value[number - 1]) {
      by_value[number - 1] = true;
      return 1;
    }
  }
  if (const int position = storage::PgErrorPosition(error); position > 0) {
    const size_t at = ByteOffset(statement.text, position - 1);
    const int marked = at < statement.text.size() && IsWordChar(statement.text[at])
                           ? MarkArguments(statement, at, by_value)
                           : MarkOperands(statement, at, by_value);
    if (marked > 0) return marked;
  }
  int marked = 0;
  for (size_t i = 0; i < by_value.size(); ++i) {
    if (!by_value[i]) {
      by_value[i] = true;
      ++marked;
    }
  }
  return marked;
}

absl::Status SqlStatements::Plan(const domain::SqlStatement& statement) {
  Typing typing;
  typing.by_value.assign(statement.parameters.size(), false);
  absl::Status as_written;  // the error of the statement as written, if it fails
  while (true) {
    absl::Status s = TryStandIns(statement, typing);
    if (s.ok()) break;
    if (as_written.ok()) as_written = s;
    if (absl::IsUnavailable(s)) return s;
    if (!IsParameterTypingError(s) || MarkUntypedParameters(statement, s, typing.by_value) == 0) {
      return as_written;
    }
  }
  absl::Status s = LoadElementTypes(typing);
  if (!s.ok()) return s;
  typings_[&statement] = std::move(typing);
  return absl::OkStatus();
}

// Prepares the unnamed statement with the by-value parameters given each stand-in type in
// turn. The first error is returned, unless a later one asks for more by-value parameters.
absl::Status SqlStatements::TryStandIns(const domain::SqlStatement& statement, Typing& typing) {
  const bool any_by_value =
      std::find(typing.by_value.begin(), typing.by_value.end(), true) != typing.by_value.end();
  absl::Status first;
  for (uint32_t stand_in : kStandIns) {
    std::vector<uint32_t> types(statement.parameters.size(), 0);
    for (size_t i = 0; i < types.size(); ++i) types[i] = typing.by_value[i] ? stand_in : 0;
    absl::StatusOr<std::vector<uint32_t>> settled = conn_.PrepareTyped("", statement.text, types);
    if (settled.ok()) {
      typing.settled = *std::move(settled);
      typing.stand_in = stand_in;
      return absl::OkStatus();
    }
    if (!any_by_value || absl::IsUnavailable(settled.status()) ||
        IsParameterTypingError(settled.status())) {
      return settled.status();
    }
    if (first.ok()) first = settled.status();
  }
  return first;
}

// Element types of the parameters PostgreSQL typed as arrays.
absl::Status SqlStatements::LoadElementTypes(Typing& typing) {
  typing.element.assign(typing.settled.size(), 0);
  std::string oids;
  for (size_t i = 0; i < typing.settled.size(); ++i) {
    if (!typing.by_value[i]) absl::StrAppend(&oids, oids.empty() ? "" : ",", typing.settled[i]);
  }
  if (oids.empty()) return absl::OkStatus();
  auto rows = conn_.ExecParams(
      "SELECT oid, typelem FROM pg_type WHERE typcategory = 'A' AND oid = ANY($1::oid[])",
      {absl::StrCat("{", oids, "}")});
  if (!rows.ok()) return rows.status();
  for (int r = 0; r < rows->rows(); ++r) {
    const uint32_t oid = std::strtoul(std::string(rows->Get(r, 0)).c_str(), nullptr, 10);
    const uint32_t element = std::strtoul(std::string(rows->Get(r, 1)).c_str(), nullptr, 10);
    for (size_t i = 0; i < typing.settled.size(); ++i) {
      if (!typing.by_value[i] && typing.settled[i] == oid) typing.element[i] = element;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::PipelineCommand> SqlStatements::Bind(const domain::SqlStatement& statement,
                                                             const std::vector<Datum>& values) {
  auto it = typings_.find(&statement);
  if (it == typings_.end()) return absl::InternalError("SQL statement bound before planning");
  Typing& typing = it->second;
  std::vector<uint32_t> types(values.size(), 0);
  std::vector<size_t> lone_items;  // non-array values of array-typed parameters
  storage::PipelineCommand command;
  command.params.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const Datum& d = values[i];
    if (typing.by_value[i]) {
      types[i] = d.is_null() ? typing.stand_in : TypeOfValue(d);
    } else if (typing.element[i] != 0 && IsJsonArray(d)) {
      const bool json = typing.element[i] == kJsonOid || typing.element[i] == kJsonbOid;
      absl::StatusOr<std::string> literal = PgArrayLiteral(d.text, json);
      if (!literal.ok()) return literal.status();
      command.params.push_back(*std::move(literal));
      continue;
    } else if (typing.element[i] != 0 && !d.is_null()) {
      types[i] = typing.element[i];  // one element, e.g. appended with ||
      lone_items.push_back(i);
    }
    command.params.push_back(d.AsCell());
  }
  absl::StatusOr<std::string> name = Variant(statement, typing, types);
  if (!name.ok() && !lone_items.empty()) {
    // Where only an array fits (`SET tags = :tag`), the value is an array of that one item,
    // as the action form writes it.
    for (size_t i : lone_items) {
      ColumnSpec column;
      column.shape = typing.element[i] == kJsonOid || typing.element[i] == kJsonbOid
                         ? ValueShape::kJsonArray
                         : ValueShape::kArray;
      absl::StatusOr<std::string> literal = ActionValueText(column, values[i]);
      if (!literal.ok()) return literal.status();
      command.params[i] = *std::move(literal);
      types[i] = 0;
    }
    absl::StatusOr<std::string> as_array = Variant(statement, typing, types);
    if (as_array.ok()) name = std::move(as_array);
  }
  if (!name.ok()) return name.status();
  command.statement = *std::move(name);
  return command;
}

absl::StatusOr<std::string> SqlStatements::Variant(const domain::SqlStatement& statement,
                                                   Typing& typing,
                                                   const std::vector<uint32_t>& types) {
  auto it = typing.variants.find(types);
  if (it != typing.variants.end()) return it->second;
  if (typing.variants.size() >= kMaxVariants) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", kMaxVariants, " combinations of parameter value types"));
  }
  std::string name = absl::StrCat("pa_sql_", prepared_count_++);
  // A failing prepare would abort the transaction: it runs in a savepoint.
  auto s = conn_.Exec("SAVEPOINT pa_prepare");
  if (!s.ok()) return s.status();
  absl::StatusOr<std::vector<uint32_t>> prepared = conn_.PrepareTyped(name, statement.text, types);
  absl::StatusOr<std::string> variant = name;
  if (prepared.ok()) {
    s = conn_.Exec("RELEASE SAVEPOINT pa_prepare");
  } else {
    if (absl::IsUnavailable(prepared.status())) return prepared.status();
    variant = absl::Status(prepared.status().code(), storage::PgPrimaryMessage(prepared.status()));
    s = conn_.Exec("ROLLBACK TO SAVEPOINT pa_prepare; RELEASE SAVEPOINT pa_prepare");
  }
  if (!s.ok()) return s.status();
  typing.variants.emplace(types, variant);
  return variant;
}

}  // namespace protean_admin::rebuild
