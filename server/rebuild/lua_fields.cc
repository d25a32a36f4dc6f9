#include "server/rebuild/lua_fields.h"

#include <algorithm>
#include <cctype>
#include <cstddef>

namespace protean_admin::rebuild {
namespace {

struct Token {
  enum Kind { kName, kOperator, kLiteral } kind;
  std::string_view text;
};

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// At `at` (a '['), the level of a long bracket `[==[` (the number of '='), or -1.
int LongBracketLevel(std::string_view s, size_t at) {
  size_t i = at + 1;
  while (i < s.size() && s[i] == '=') ++i;
  return i < s.size() && s[i] == '[' ? static_cast<int>(i - at - 1) : -1;
}

// Past the long bracket of `level` opened at `at` (the end of `s` when it is not closed).
size_t SkipLong(std::string_view s, size_t at, int level) {
  std::string close = "]" + std::string(level, '=') + "]";
  size_t end = s.find(close, at + level + 2);
  return end == std::string_view::npos ? s.size() : end + close.size();
}

// Past the numeral starting at `at` (Lua 5.4's read_numeral).
size_t SkipNumeral(std::string_view s, size_t i) {
  const char* exponent = "Ee";
  if (s[i] == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    exponent = "Pp";
    i += 2;
  }
  while (i < s.size()) {
    if (s[i] == exponent[0] || s[i] == exponent[1]) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    } else if (std::isxdigit(static_cast<unsigned char>(s[i])) || s[i] == '.') {
      ++i;
    } else {
      break;
    }
  }
  return i;
}

// Past the short string whose quote is at `at`.
size_t SkipShortString(std::string_view s, size_t i) {
  const char quote = s[i++];
  while (i < s.size()) {
    if (s[i] == '\\') {
      i += 2;
    } else if (s[i++] == quote) {
      break;
    }
  }
  return std::min(i, s.size());
}

std::vector<Token> Tokenize(std::string_view s) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    const size_t start = i;
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {  // a comment
      int level = i + 2 < s.size() && s[i + 2] == '[' ? LongBracketLevel(s, i + 2) : -1;
      if (level >= 0) {
        i = SkipLong(s, i + 2, level);
      } else {
        size_t end = s.find('\n', i);
        i = end == std::string_view::npos ? s.size() : end;
      }
      continue;
    }
    Token::Kind kind = Token::kOperator;
    if (IsNameStart(c)) {
      while (i < s.size() && IsNameChar(s[i])) ++i;
      kind = Token::kName;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      i = SkipNumeral(s, i);
      kind = Token::kLiteral;
    } else if (c == '"' || c == '\'') {
      i = SkipShortString(s, i);
      kind = Token::kLiteral;
    } else if (c == '[' && LongBracketLevel(s, i) >= 0) {
      i = SkipLong(s, i, LongBracketLevel(s, i));
      kind = Token::kLiteral;
    } else if (c == '.' || c == ':') {
      while (i < s.size() && s[i] == c && i - start < (c == '.' ? 3u : 2u)) ++i;
    } else {
      ++i;
    }
    tokens.push_back(Token{kind, s.substr(start, i - start)});
  }
  return tokens;
}

bool IsOperator(const std::vector<Token>& tokens, size_t i, std::string_view text) {
  return i < tokens.size() && tokens[i].kind == Token::kOperator && tokens[i].text == text;
}

}  // namespace

std::optional<std::vector<std::string>> EventFieldsRead(std::string_view source) {
  const std::vector<Token> tokens = Tokenize(source);
  std::vector<std::string> fields;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind != Token::kName) continue;
    if (tokens[i].text == "_ENV" || tokens[i].text == "_G") return std::nullopt;
    if (tokens[i].text != "event") continue;
    if (i > 0 && (IsOperator(tokens, i - 1, ".") || IsOperator(tokens, i - 1, ":"))) continue;
    if (!IsOperator(tokens, i + 1, ".") || i + 2 >= tokens.size() ||
        tokens[i + 2].kind != Token::kName) {
      return std::nullopt;
    }
    std::string field(tokens[i + 2].text);
    if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
      fields.push_back(std::move(field));
    }
  }
  return fields;
}

}  // namespace protean_admin::rebuild
