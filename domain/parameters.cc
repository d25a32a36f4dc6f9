#include "domain/parameters.h"

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

namespace {

// The scanner behind RewriteSql: copies `sql` token by token into the statement's text,
// replacing each parameter with the next "$n".
class SqlRewriter {
 public:
  explicit SqlRewriter(std::string_view sql) : sql_(sql) {
    statement_.original = Str(sql);
    statement_.text.reserve(sql.size());
  }

  absl::StatusOr<SqlStatement> Run() {
    while (i_ < sql_.size()) {
      absl::Status s = Step();
      if (!s.ok()) return s;
    }
    return std::move(statement_);
  }

 private:
  absl::Status Step() {
    const char c = sql_[i_];
    if (c == '\'') return Quoted('\'', "string literal", BackslashEscapes());
    if (c == '"') return Quoted('"', "quoted identifier", false);
    if (c == '-' && Next() == '-') return Copy(std::min(sql_.find('\n', i_), sql_.size()));
    if (c == '/' && Next() == '*') return BlockComment();
    if (c == '$') return Dollar();
    if (c == ':') return Colon();
    if (IsIdentChar(c)) {
      // A whole word, so that a '$' continuing an identifier (e.g. "x$1") is not taken for a
      // positional parameter; it stops before a quote so that E'...' is seen as a literal.
      size_t j = i_;
      while (j < sql_.size() && (IsIdentChar(sql_[j]) || sql_[j] == '$')) ++j;
      return Copy(j);
    }
    return Copy(i_ + 1);
  }

  char Next() const { return i_ + 1 < sql_.size() ? sql_[i_ + 1] : '\0'; }

  // Copies sql_[i_, end) and moves there.
  absl::Status Copy(size_t end) {
    statement_.text.append(sql_.substr(i_, end - i_));
    i_ = end;
    return absl::OkStatus();
  }

  absl::Status Unterminated(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("unterminated ", Str(what), " at offset ", i_, " of the SQL"));
  }

  // E'...' allows backslash escapes.
  bool BackslashEscapes() const {
    return i_ > 0 && (sql_[i_ - 1] == 'E' || sql_[i_ - 1] == 'e') &&
           (i_ < 2 || !IsIdentChar(sql_[i_ - 2]));
  }

  // '...' or "...", a doubled quote standing for itself.
  absl::Status Quoted(char quote, std::string_view what, bool backslash_escapes) {
    size_t j = i_ + 1;
    while (true) {
      if (j >= sql_.size()) return Unterminated(what);
      if (backslash_escapes && sql_[j] == '\\') {
        j += 2;
      } else if (sql_[j] == quote && j + 1 < sql_.size() && sql_[j + 1] == quote) {
        j += 2;
      } else if (sql_[j] == quote) {
        return Copy(j + 1);
      } else {
        ++j;
      }
    }
  }

  // /* ... */, nested.
  absl::Status BlockComment() {
    int depth = 1;
    size_t j = i_ + 2;
    while (depth > 0) {
      if (j + 1 >= sql_.size()) return Unterminated("comment");
      if (sql_[j] == '/' && sql_[j + 1] == '*') {
        ++depth;
        j += 2;
      } else if (sql_[j] == '*' && sql_[j + 1] == '/') {
        --depth;
        j += 2;
      } else {
        ++j;
      }
    }
    return Copy(j);
  }

  // A positional "$1" (refused), a "$tag$...$tag$" string, or a '$' inside a word.
  absl::Status Dollar() {
    const bool in_word = i_ > 0 && IsIdentChar(sql_[i_ - 1]);
    size_t j = i_ + 1;
    if (j < sql_.size() && IsDigit(sql_[j]) && !in_word) {
      return absl::InvalidArgumentError(
          absl::StrCat("positional parameter '$", Str(sql_.substr(j, 1)),
                       "...' in the SQL: use :field or :$attribute parameters instead"));
    }
    if (in_word) return Copy(i_ + 1);
    while (j < sql_.size() && IsIdentChar(sql_[j])) ++j;
    if (j >= sql_.size() || sql_[j] != '$') return Copy(j);
    std::string_view tag = sql_.substr(i_, j + 1 - i_);  // "$tag$"
    size_t close = sql_.find(tag, j + 1);
    if (close == std::string_view::npos) return Unterminated("dollar-quoted string");
    return Copy(close + tag.size());
  }

  // A "::" cast, a parameter, or a lone ':'.
  absl::Status Colon() {
    if (Next() == ':') return Copy(i_ + 2);
    Parameter parameter;
    absl::StatusOr<size_t> length = ScanParameter(sql_, i_, &parameter);
    if (!length.ok()) return length.status();
    if (*length == 0) return Copy(i_ + 1);
    statement_.parameters.push_back(std::move(parameter));
    statement_.offsets.push_back(statement_.text.size());
    absl::StrAppend(&statement_.text, "$", statement_.parameters.size());
    i_ += *length;
    return absl::OkStatus();
  }

  std::string_view sql_;
  size_t i_ = 0;
  SqlStatement statement_;
};

}  // namespace

absl::StatusOr<SqlStatement> RewriteSql(std::string_view sql) { return SqlRewriter(sql).Run(); }

}  // namespace protean_admin::domain
