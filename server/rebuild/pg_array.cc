#include "server/rebuild/pg_array.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace protean_admin::rebuild {
namespace {

constexpr int kMaxDepth = 64;

bool IsSpace(char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); }

class Parser {
 public:
  Parser(std::string_view text, std::vector<PgArrayToken>& tokens) : text_(text), tokens_(tokens) {}

  absl::Status Parse() {
    SkipSpaces();
    if (pos_ < text_.size() && text_[pos_] == '[') {
      size_t equals = text_.find('=', pos_);
      if (equals == std::string_view::npos) return Malformed("dimension decoration without '='");
      pos_ = equals + 1;
      SkipSpaces();
    }
    if (!ParseDimension(0)) return Malformed(error_);
    SkipSpaces();
    if (pos_ != text_.size()) return Malformed("junk after closing right brace");
    return absl::OkStatus();
  }

 private:
  absl::Status Malformed(std::string_view detail) const {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed array literal: \"", std::string(text_), "\" (", std::string(detail), ")"));
  }

  void SkipSpaces() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  void Emit(PgArrayToken::Kind kind) {
    tokens_.emplace_back();
    tokens_.back().kind = kind;
  }

  bool Fail(const char* detail) {
    error_ = detail;
    return false;
  }

  bool ParseDimension(int depth) {
    if (depth >= kMaxDepth) return Fail("too many dimensions");
    if (pos_ >= text_.size() || text_[pos_] != '{')
      return Fail("array value must start with \"{\"");
    ++pos_;
    Emit(PgArrayToken::Kind::kBegin);
    SkipSpaces();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      Emit(PgArrayToken::Kind::kEnd);
      return true;
    }
    while (true) {
      SkipSpaces();
      if (pos_ >= text_.size()) return Fail("unexpected end of input");
      bool ok = text_[pos_] == '{' ? ParseDimension(depth + 1) : ParseItem();
      if (!ok) return false;
      SkipSpaces();
      if (pos_ >= text_.size()) return Fail("unexpected end of input");
      char c = text_[pos_++];
      if (c == '}') break;
      if (c != ',') return Fail("unexpected character");
    }
    Emit(PgArrayToken::Kind::kEnd);
    return true;
  }

  bool ParseItem() {
    Emit(PgArrayToken::Kind::kItem);
    std::string& item = tokens_.back().text;
    if (text_[pos_] == '"') {
      ++pos_;
      while (true) {
        if (pos_ >= text_.size()) return Fail("unterminated quoted item");
        char c = text_[pos_++];
        if (c == '"') return true;
        if (c == '\\') {
          if (pos_ >= text_.size()) return Fail("unterminated quoted item");
          c = text_[pos_++];
        }
        item.push_back(c);
      }
    }
    bool escaped = false;
    size_t kept = 0;  // length up to the last escaped or non-space character
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}') {
      char c = text_[pos_++];
      if (c == '{' || c == '"') return Fail("unexpected character in an unquoted item");
      if (c == '\\') {
        if (pos_ >= text_.size()) return Fail("unexpected end of input");
        item.push_back(text_[pos_++]);
        escaped = true;
        kept = item.size();
        continue;
      }
      item.push_back(c);
      if (!IsSpace(c)) kept = item.size();
    }
    item.resize(kept);
    if (item.empty()) return Fail("empty unquoted item");
    if (!escaped && absl::EqualsIgnoreCase(item, "NULL")) {
      tokens_.back().kind = PgArrayToken::Kind::kNull;
      item.clear();
    }
    return true;
  }

  std::string_view text_;
  std::vector<PgArrayToken>& tokens_;
  size_t pos_ = 0;
  const char* error_ = "";
};

}  // namespace

absl::Status ParsePgArray(std::string_view text, std::vector<PgArrayToken>& tokens) {
  tokens.clear();
  return Parser(text, tokens).Parse();
}

void AppendPgArrayItem(std::string& out, std::string_view item) {
  out.push_back('"');
  for (char c : item) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace protean_admin::rebuild
