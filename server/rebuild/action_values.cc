#include "server/rebuild/action_values.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/rebuild/decimal.h"
#include "server/rebuild/pg_array.h"

namespace protean_admin::rebuild {
namespace {

bool IsJsonArray(const Datum& value) {
  if (value.kind != Datum::Kind::kJson) return false;
  const absl::string_view text = absl::StripLeadingAsciiWhitespace(value.text);
  return !text.empty() && text.front() == '[';
}

// The JSON text of a value: strings quoted and escaped, everything else as read.
std::string JsonText(const Datum& value) {
  if (value.kind != Datum::Kind::kString) return value.text;
  return nlohmann::json(value.text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

absl::StatusOr<std::string> ActionValueText(const ColumnSpec& column, const Datum& value) {
  switch (column.shape) {
    case ValueShape::kScalar:
      return value.text;
    case ValueShape::kJson:
      return JsonText(value);
    case ValueShape::kArray:
    case ValueShape::kJsonArray:
      break;
  }
  const bool json_items = column.shape == ValueShape::kJsonArray;
  if (IsJsonArray(value)) {
    absl::StatusOr<std::string> literal = PgArrayLiteral(value.text, json_items);
    if (!literal.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(literal.status().message(), " (column ", column.name, ")"));
    }
    return literal;
  }
  std::string literal = "{";
  AppendPgArrayItem(literal, json_items ? JsonText(value) : value.text);
  literal.push_back('}');
  return literal;
}

absl::StatusOr<Datum> NegateValue(Datum value, std::string_view parameter) {
  if (value.is_null()) return value;
  const bool number = value.kind == Datum::Kind::kNumber ||
                      (value.kind == Datum::Kind::kString && Decimal::Parse(value.text).ok());
  if (!number) {
    std::string shown = value.text.size() > 64 ? value.text.substr(0, 64) + "..." : value.text;
    return absl::InvalidArgumentError(absl::StrCat("cannot negate -", std::string(parameter),
                                                   ": \"", shown, "\" is not a number"));
  }
  std::string text(absl::StripAsciiWhitespace(value.text));
  if (text.front() == '-') {
    text.erase(0, 1);
  } else if (text.front() == '+') {
    text.front() = '-';
  } else {
    text.insert(0, 1, '-');
  }
  value.text = std::move(text);
  return value;
}

}  // namespace protean_admin::rebuild
