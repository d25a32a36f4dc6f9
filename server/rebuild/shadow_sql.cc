#include "server/rebuild/shadow_sql.h"

#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"

namespace protean_admin::rebuild {
namespace {

struct Token {
  enum class Kind { kName, kDot, kOther };
  Kind kind = Kind::kOther;
  std::string name;  // kName: as PostgreSQL resolves it
};

bool NameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c & 0x80;
}
bool NamePart(char c) {
  return NameStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

// Skips from `i` (at the opening `quote`) past the closing one; a doubled quote escapes it.
size_t SkipQuoted(std::string_view sql, size_t i, char quote, std::string* text) {
  for (++i; i < sql.size(); ++i) {
    if (sql[i] != quote) {
      if (text != nullptr) text->push_back(sql[i]);
      continue;
    }
    if (i + 1 < sql.size() && sql[i + 1] == quote) {
      if (text != nullptr) text->push_back(quote);
      ++i;
      continue;
    }
    return i + 1;
  }
  return sql.size();
}

// Past a comment starting at `i`, or `i` when there is none.
size_t SkipComment(std::string_view sql, size_t i) {
  if (sql.compare(i, 2, "--") == 0) {
    size_t end = sql.find('\n', i);
    return end == std::string_view::npos ? sql.size() : end + 1;
  }
  if (sql.compare(i, 2, "/*") == 0) {
    size_t end = sql.find("*/", i + 2);
    return end == std::string_view::npos ? sql.size() : end + 2;
  }
  return i;
}

// Past a dollar-quoted string starting at `i` ($tag$...$tag$), or `i` when there is none.
size_t SkipDollarQuoted(std::string_view sql, size_t i) {
  size_t tag_end = i + 1;
  while (tag_end < sql.size() && NamePart(sql[tag_end]) && sql[tag_end] != '$') ++tag_end;
  if (tag_end >= sql.size() || sql[tag_end] != '$') return i;
  std::string_view tag = sql.substr(i, tag_end - i + 1);
  size_t end = sql.find(tag, tag_end + 1);
  return end == std::string_view::npos ? sql.size() : end + tag.size();
}

std::vector<Token> Tokenize(std::string_view sql) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (size_t past = SkipComment(sql, i); past != i) {
      i = past;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '\'') {
      i = SkipQuoted(sql, i, '\'', nullptr);
      tokens.push_back({});
    } else if (c == '$' && (i == 0 || !NamePart(sql[i - 1]))) {
      size_t past = SkipDollarQuoted(sql, i);
      i = past == i ? i + 1 : past;
      tokens.push_back({});
    } else if (c == '"') {
      Token t{Token::Kind::kName, ""};
      i = SkipQuoted(sql, i, '"', &t.name);
      tokens.push_back(std::move(t));
    } else if (NameStart(c)) {
      size_t end = i;
      while (end < sql.size() && NamePart(sql[end])) ++end;
      tokens.push_back(
          {Token::Kind::kName, absl::AsciiStrToLower(std::string(sql.substr(i, end - i)))});
      i = end;
    } else {
      tokens.push_back({c == '.' ? Token::Kind::kDot : Token::Kind::kOther, ""});
      ++i;
    }
  }
  return tokens;
}

}  // namespace

bool NamesTableQualified(std::string_view sql, std::string_view schema, std::string_view table) {
  const std::vector<Token> tokens = Tokenize(sql);
  for (size_t i = 2; i < tokens.size(); ++i) {
    if (tokens[i].kind == Token::Kind::kName && tokens[i].name == table &&
        tokens[i - 1].kind == Token::Kind::kDot && tokens[i - 2].kind == Token::Kind::kName &&
        tokens[i - 2].name == schema) {
      return true;
    }
  }
  return false;
}

}  // namespace protean_admin::rebuild
