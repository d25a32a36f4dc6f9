#include "server/rebuild/column_ops.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "server/rebuild/decimal.h"

namespace protean_admin::rebuild {
namespace {

absl::Status InvalidInput(const ColumnSpec& column, std::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("invalid input syntax for type ", column.type_sql,
                                                 " (column ", column.name, "): \"",
                                                 std::string(text), "\""));
}

absl::StatusOr<int64_t> ParseInteger(const ColumnSpec& column, std::string_view text) {
  std::string_view s = StripAsciiWhitespace(text);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return absl::InvalidArgumentError(absl::StrCat(
        "value \"", std::string(text), "\" is out of range for type ", column.type_sql));
  }
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    return InvalidInput(column, text);
  }
  return value;
}

absl::Status CheckIntRange(const ColumnSpec& column, int64_t value) {
  int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  if (column.kind == ColumnKind::kInt16) {
    lo = std::numeric_limits<int16_t>::min();
    hi = std::numeric_limits<int16_t>::max();
  } else if (column.kind == ColumnKind::kInt32) {
    lo = std::numeric_limits<int32_t>::min();
    hi = std::numeric_limits<int32_t>::max();
  }
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(column.type_sql, " out of range (column ", column.name, ")"));
  }
  return absl::OkStatus();
}

template <typename F>
absl::StatusOr<F> ParseFloat(const ColumnSpec& column, std::string_view text) {
  std::string_view trimmed = StripAsciiWhitespace(text);
  char buffer[128];
  std::string heap;
  const char* s = nullptr;
  if (trimmed.size() < sizeof(buffer)) {
    std::memcpy(buffer, trimmed.data(), trimmed.size());
    buffer[trimmed.size()] = '\0';
    s = buffer;
  } else {
    heap.assign(trimmed);
    s = heap.c_str();
  }
  size_t n = trimmed.size();
  if (n == 0) return InvalidInput(column, text);
  // PostgreSQL's spellings of the special values (strtod would also take "0x..." forms).
  size_t sign = (s[0] == '+' || s[0] == '-') ? 1 : 0;
  if (sign < n && std::isalpha(static_cast<unsigned char>(s[sign]))) {
    std::string lower;
    for (size_t i = sign; i < n; ++i) {
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s[i]))));
    }
    bool negative = s[0] == '-';
    if (lower == "nan" && sign == 0) return std::numeric_limits<F>::quiet_NaN();
    if (lower == "infinity" || lower == "inf") {
      return negative ? -std::numeric_limits<F>::infinity() : std::numeric_limits<F>::infinity();
    }
    return InvalidInput(column, text);
  }
  for (size_t i = sign; i < n; ++i) {
    char c = s[i];
    if (c == 'x' || c == 'X') return InvalidInput(column, text);
  }
  {
    // Correctly rounded like strtod, without its locale and multi-precision slow path. Out of
    // range and unusual spellings take the strtod path below.
    F value;
    const char* begin = s + (s[0] == '+' ? 1 : 0);
    auto [end, ec] = std::from_chars(begin, s + n, value);
    if (ec == std::errc() && end == s + n) return value;
  }
  char* end = nullptr;
  errno = 0;
  F value;
  if constexpr (std::is_same_v<F, float>) {
    value = std::strtof(s, &end);
  } else {
    value = std::strtod(s, &end);
  }
  if (end != s + n) return InvalidInput(column, text);
  if (errno == ERANGE && std::isinf(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(trimmed), "\" is out of range for type ", column.type_sql));
  }
  return value;
}

template <typename F>
std::string FormatFloat(F value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

template <typename F>
absl::StatusOr<std::string> AddFloat(const ColumnSpec& column,
                                     const std::optional<std::string>& current,
                                     std::string_view delta, bool subtract) {
  F a = 0;
  if (current) {
    absl::StatusOr<F> parsed = ParseFloat<F>(column, *current);
    if (!parsed.ok()) return parsed.status();
    a = *parsed;
  }
  absl::StatusOr<F> b = ParseFloat<F>(column, delta);
  if (!b.ok()) return b.status();
  F sum = subtract ? a - *b : a + *b;
  if (std::isinf(sum) && !std::isinf(a) && !std::isinf(*b)) {
    return absl::InvalidArgumentError("value out of range: overflow");
  }
  return FormatFloat(sum);
}

}  // namespace

absl::StatusOr<double> ParseFloat8(const ColumnSpec& column, std::string_view text) {
  return ParseFloat<double>(column, text);
}

absl::StatusOr<double> AddFloat8(const ColumnSpec& column, double current, std::string_view delta,
                                 bool subtract) {
  absl::StatusOr<double> b = ParseFloat<double>(column, delta);
  if (!b.ok()) return b.status();
  double sum = subtract ? current - *b : current + *b;
  if (std::isinf(sum) && !std::isinf(current) && !std::isinf(*b)) {
    return absl::InvalidArgumentError("value out of range: overflow");
  }
  return sum;
}

std::string FormatFloat8(double value) { return FormatFloat(value); }

ColumnSpec ColumnSpec::From(const storage::ColumnInfo& column) {
  ColumnSpec spec;
  spec.name = column.name;
  spec.type_sql = column.type_sql;
  const std::string& t = column.type_name;
  if (t == "json" || t == "jsonb") {
    spec.shape = ValueShape::kJson;
  } else if (t == "_json" || t == "_jsonb") {
    spec.shape = ValueShape::kJsonArray;
  } else if (t.size() > 1 && t[0] == '_') {  // pg_type names arrays "_<element>"
    spec.shape = ValueShape::kArray;
  }
  if (t == "int2") {
    spec.kind = ColumnKind::kInt16;
  } else if (t == "int4") {
    spec.kind = ColumnKind::kInt32;
  } else if (t == "int8") {
    spec.kind = ColumnKind::kInt64;
  } else if (t == "float4") {
    spec.kind = ColumnKind::kFloat4;
  } else if (t == "float8") {
    spec.kind = ColumnKind::kFloat8;
  } else if (t == "numeric") {
    spec.kind = ColumnKind::kNumeric;
    if (column.typmod >= 4) {
      int32_t mod = column.typmod - 4;
      spec.precision = (mod >> 16) & 0xffff;
      int raw_scale = mod & 0x7ff;
      spec.scale = (raw_scale ^ 1024) - 1024;  // sign-extend 11 bits (PG15 negative scales)
      if (spec.scale < 0) {
        // Negative scales round to tens; not folded in memory.
        spec.kind = ColumnKind::kOther;
      }
    }
  }
  return spec;
}

absl::StatusOr<std::string> CoerceValue(const ColumnSpec& column, std::string_view text) {
  switch (column.kind) {
    case ColumnKind::kOther:
      return std::string(text);
    case ColumnKind::kInt16:
    case ColumnKind::kInt32:
    case ColumnKind::kInt64: {
      absl::StatusOr<int64_t> v = ParseInteger(column, text);
      if (!v.ok()) return v.status();
      absl::Status range = CheckIntRange(column, *v);
      if (!range.ok()) return range;
      return absl::StrCat(*v);
    }
    case ColumnKind::kFloat4: {
      absl::StatusOr<float> v = ParseFloat<float>(column, text);
      if (!v.ok()) return v.status();
      return FormatFloat(*v);
    }
    case ColumnKind::kFloat8: {
      absl::StatusOr<double> v = ParseFloat<double>(column, text);
      if (!v.ok()) return v.status();
      return FormatFloat(*v);
    }
    case ColumnKind::kNumeric: {
      absl::StatusOr<Decimal> d = Decimal::Parse(text);
      if (!d.ok()) return d.status();
      absl::StatusOr<Decimal> r = ApplyTypmod(*d, column.precision, column.scale);
      if (!r.ok()) return r.status();
      return r->ToString();
    }
  }
  return std::string(text);
}

absl::StatusOr<std::string> IncrementValue(const ColumnSpec& column,
                                           const std::optional<std::string>& current,
                                           std::string_view delta, bool subtract) {
  switch (column.kind) {
    case ColumnKind::kOther:
      return absl::InvalidArgumentError(
          absl::StrCat("cannot increment column ", column.name, " of type ", column.type_sql));
    case ColumnKind::kInt16:
    case ColumnKind::kInt32:
    case ColumnKind::kInt64: {
      int64_t a = 0;
      if (current) {
        absl::StatusOr<int64_t> parsed = ParseInteger(column, *current);
        if (!parsed.ok()) return parsed.status();
        a = *parsed;
      }
      absl::StatusOr<int64_t> b = ParseInteger(column, delta);
      if (!b.ok()) return b.status();
      absl::Status range = CheckIntRange(column, *b);
      if (!range.ok()) return range;
      int64_t sum = 0;
      if (subtract ? __builtin_sub_overflow(a, *b, &sum) : __builtin_add_overflow(a, *b, &sum)) {
        return absl::InvalidArgumentError(absl::StrCat(column.type_sql, " out of range"));
      }
      range = CheckIntRange(column, sum);
      if (!range.ok()) return range;
      return absl::StrCat(sum);
    }
    case ColumnKind::kFloat4:
      return AddFloat<float>(column, current, delta, subtract);
    case ColumnKind::kFloat8:
      return AddFloat<double>(column, current, delta, subtract);
    case ColumnKind::kNumeric: {
      Decimal a;
      if (current) {
        absl::StatusOr<Decimal> parsed = Decimal::Parse(*current);
        if (!parsed.ok()) return parsed.status();
        a = *parsed;
      }
      absl::StatusOr<Decimal> b = Decimal::Parse(delta);
      if (!b.ok()) return b.status();
      absl::StatusOr<Decimal> sum =
          ApplyTypmod(subtract ? Subtract(a, *b) : Add(a, *b), column.precision, column.scale);
      if (!sum.ok()) return sum.status();
      return sum->ToString();
    }
  }
  return absl::InternalError("unreachable");
}

}  // namespace protean_admin::rebuild
