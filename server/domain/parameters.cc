#include "server/domain/parameters.h"

#include <array>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace protean_admin::domain {
namespace {

constexpr std::array<std::pair<std::string_view, MessageAttribute>, 8> kAttributes = {{
    {"global_position", MessageAttribute::kGlobalPosition},
    {"position", MessageAttribute::kPosition},
    {"stream_name", MessageAttribute::kStreamName},
    {"stream_id", MessageAttribute::kStreamId},
    {"type", MessageAttribute::kType},
    {"version", MessageAttribute::kVersion},
    {"time", MessageAttribute::kTime},
    {"message_id", MessageAttribute::kMessageId},
}};

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

std::string Str(std::string_view sv) { return std::string(sv); }

// Scans a parameter starting at text[pos] == ':'. On success returns its length (including
// the ':') and fills `out`; returns 0 when no parameter starts there.
absl::StatusOr<size_t> ScanParameter(std::string_view text, size_t pos, Parameter* out) {
  size_t i = pos + 1;
  if (i < text.size() && text[i] == '$') {
    size_t start = i + 1;
    size_t end = start;
    while (end < text.size() && IsIdentChar(text[end])) ++end;
    if (end == start) return 0;
    std::string_view name = text.substr(start, end - start);
    std::optional<MessageAttribute> attribute = MessageAttributeFromName(name);
    if (!attribute) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown message attribute ':$", Str(name),
          "' (known: :$global_position, :$position, :$stream_name, :$stream_id, :$type, "
          ":$version, :$time, :$message_id)"));
    }
    out->attribute = attribute;
    out->path.clear();
    out->text = Str(text.substr(pos, end - pos));
    return end - pos;
  }
  if (i >= text.size() || !IsIdentStart(text[i])) return 0;
  out->attribute.reset();
  out->path.clear();
  size_t end = i;
  while (true) {
    size_t start = end;
    while (end < text.size() && IsIdentChar(text[end])) ++end;
    out->path.emplace_back(text.substr(start, end - start));
    // A '.' continues the path only when a segment follows.
    if (end + 1 < text.size() && text[end] == '.' && IsIdentChar(text[end + 1])) {
      ++end;
      continue;
    }
    break;
  }
  out->text = Str(text.substr(pos, end - pos));
  return end - pos;
}

}  // namespace

std::optional<MessageAttribute> MessageAttributeFromName(std::string_view name) {
  for (const auto& [n, a] : kAttributes) {
    if (n == name) return a;
  }
  return std::nullopt;
}

std::string_view MessageAttributeName(MessageAttribute attribute) {
  for (const auto& [n, a] : kAttributes) {
    if (a == attribute) return n;
  }
  return "";
}

absl::StatusOr<std::optional<Parameter>> ParseParameterReference(std::string_view text) {
  if (text.size() < 2 || text[0] != ':') return std::optional<Parameter>();
  Parameter parameter;
  absl::StatusOr<size_t> length = ScanParameter(text, 0, &parameter);
  if (!length.ok()) return length.status();
  if (*length != text.size()) return std::optional<Parameter>();
  return std::optional<Parameter>(std::move(parameter));
}

absl::StatusOr<SqlStatement> RewriteSql(std::string_view sql) {
  SqlStatement statement;
  statement.original = Str(sql);
  std::string& out = statement.text;
  out.reserve(sql.size());
  size_t i = 0;
  const size_t n = sql.size();
  auto unterminated = [&](std::string_view what, size_t at) {
    return absl::InvalidArgumentError(
        absl::StrCat("unterminated ", Str(what), " at offset ", at, " of the SQL"));
  };
  while (i < n) {
    char c = sql[i];
    if (c == '\'') {
      // String literal; E'...' allows backslash escapes.
      bool backslash_escapes =
          i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !IsIdentChar(sql[i - 2]));
      size_t j = i + 1;
      while (true) {
        if (j >= n) return unterminated("string literal", i);
        if (backslash_escapes && sql[j] == '\\') {
          j += 2;
          continue;
        }
        if (sql[j] == '\'') {
          if (j + 1 < n && sql[j + 1] == '\'') {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      out.append(sql.substr(i, j + 1 - i));
      i = j + 1;
    } else if (c == '"') {
      size_t j = i + 1;
      while (true) {
        if (j >= n) return unterminated("quoted identifier", i);
        if (sql[j] == '"') {
          if (j + 1 < n && sql[j + 1] == '"') {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      out.append(sql.substr(i, j + 1 - i));
      i = j + 1;
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      size_t j = sql.find('\n', i);
      if (j == std::string_view::npos) j = n;
      out.append(sql.substr(i, j - i));
      i = j;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      int depth = 1;
      size_t j = i + 2;
      while (depth > 0) {
        if (j + 1 >= n) return unterminated("comment", i);
        if (sql[j] == '/' && sql[j + 1] == '*') {
          ++depth;
          j += 2;
        } else if (sql[j] == '*' && sql[j + 1] == '/') {
          --depth;
          j += 2;
        } else {
          ++j;
        }
      }
      out.append(sql.substr(i, j - i));
      i = j;
    } else if (c == '$') {
      size_t j = i + 1;
      if (j < n && IsDigit(sql[j])) {
        if (i > 0 && IsIdentChar(sql[i - 1])) {  // part of an identifier such as a$1
          out.push_back(c);
          ++i;
          continue;
        }
        return absl::InvalidArgumentError(
            absl::StrCat("positional parameter '$", Str(sql.substr(j, 1)),
                         "...' in the SQL: use :field or :$attribute parameters instead"));
      }
      if (i > 0 && IsIdentChar(sql[i - 1])) {  // '$' inside an identifier
        out.push_back(c);
        ++i;
        continue;
      }
      while (j < n && IsIdentChar(sql[j])) ++j;
      if (j < n && sql[j] == '$') {
        std::string_view tag = sql.substr(i, j + 1 - i);  // "$tag$"
        size_t close = sql.find(tag, j + 1);
        if (close == std::string_view::npos) return unterminated("dollar-quoted string", i);
        out.append(sql.substr(i, close + tag.size() - i));
        i = close + tag.size();
      } else {
        out.append(sql.substr(i, j - i));
        i = j;
      }
    } else if (c == ':') {
      if (i + 1 < n && sql[i + 1] == ':') {  // cast
        out.append("::");
        i += 2;
        continue;
      }
      Parameter parameter;
      absl::StatusOr<size_t> length = ScanParameter(sql, i, &parameter);
      if (!length.ok()) return length.status();
      if (*length == 0) {
        out.push_back(c);
        ++i;
        continue;
      }
      size_t number = 0;
      for (size_t k = 0; k < statement.parameters.size(); ++k) {
        if (statement.parameters[k].text == parameter.text) {
          number = k + 1;
          break;
        }
      }
      if (number == 0) {
        statement.parameters.push_back(std::move(parameter));
        number = statement.parameters.size();
      }
      out += '$';
      out += std::to_string(number);
      i += *length;
    } else if (IsIdentChar(c)) {
      // Copy a whole identifier/number so that "a:b" inside words is still seen, but a
      // '$' continuing an identifier (e.g. "x$1") is not a positional parameter.
      size_t j = i;
      while (j < n && (IsIdentChar(sql[j]) || sql[j] == '$')) ++j;
      // Keep E'...' detection working: stop before a quote so the literal branch sees it.
      out.append(sql.substr(i, j - i));
      i = j;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return statement;
}

}  // namespace protean_admin::domain
