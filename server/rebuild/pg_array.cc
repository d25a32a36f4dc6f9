#include "server/rebuild/pg_array.h"

#include <simdjson.h>

#include <vector>

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

// Writes a JSON array as an array literal, checking the shape of nested arrays (non-JSON
// elements): every sub-array at one depth has one length, every item sits at one depth.
class JsonArrayWriter {
 public:
  JsonArrayWriter(bool json_elements, std::string& out)
      : json_elements_(json_elements), out_(out) {}

  absl::Status Array(simdjson::ondemand::array array, int depth) {
    if (depth >= kMaxDepth) return Error("nested more than 64 deep");
    if (lengths_.size() <= static_cast<size_t>(depth)) lengths_.push_back(-1);
    out_ += '{';
    int64_t length = 0;
    for (auto item : array) {
      simdjson::ondemand::value v;
      if (auto e = item.get(v); e) return Error(simdjson::error_message(e));
      if (length++ > 0) out_ += ',';
      absl::Status s = Item(v, depth);
      if (!s.ok()) return s;
    }
    out_ += '}';
    if (depth > 0 && length == 0) return Error("an array cannot hold an empty sub-array");
    if (depth > 0 && lengths_[depth] >= 0 && lengths_[depth] != length) return Mismatch();
    lengths_[depth] = length;
    return absl::OkStatus();
  }

 private:
  static absl::Status Error(std::string_view detail) {
    return absl::InvalidArgumentError(absl::StrCat("invalid array: ", std::string(detail)));
  }
  static absl::Status Mismatch() {
    return Error("multidimensional arrays must have sub-arrays of matching lengths");
  }

  absl::Status Item(simdjson::ondemand::value v, int depth) {
    simdjson::ondemand::json_type type;
    if (auto e = v.type().get(type); e) return Error(simdjson::error_message(e));
    const bool sub_array = type == simdjson::ondemand::json_type::array && !json_elements_;
    if (sub_array ? item_depth_ >= 0 && item_depth_ <= depth
                  : item_depth_ >= 0 && item_depth_ != depth) {
      return Mismatch();
    }
    if (sub_array) return Array(v.get_array(), depth + 1);
    item_depth_ = depth;
    std::string_view text;
    if (type == simdjson::ondemand::json_type::null) {
      out_ += "NULL";
      return absl::OkStatus();
    }
    if (type == simdjson::ondemand::json_type::number ||
        type == simdjson::ondemand::json_type::boolean) {
      text = v.raw_json_token();
      while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
      out_ += text;
      return absl::OkStatus();
    }
    if (type == simdjson::ondemand::json_type::string && !json_elements_) {
      if (auto e = v.get_string().get(text); e) return Error(simdjson::error_message(e));
      AppendPgArrayItem(out_, text);
      return absl::OkStatus();
    }
    if (auto e = simdjson::to_json_string(v).get(text); e) return Error(simdjson::error_message(e));
    while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
    AppendPgArrayItem(out_, text);
    return absl::OkStatus();
  }

  const bool json_elements_;
  std::string& out_;
  std::vector<int64_t> lengths_;
  int item_depth_ = -1;
};

}  // namespace

absl::StatusOr<std::string> PgArrayLiteral(std::string_view json, bool json_elements) {
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (auto e = parser.iterate(padded).get(doc); e) {
    return absl::InvalidArgumentError(simdjson::error_message(e));
  }
  simdjson::ondemand::array array;
  if (doc.get_array().get(array) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("expected a JSON array");
  }
  std::string out;
  JsonArrayWriter writer(json_elements, out);
  absl::Status s = writer.Array(array, 0);
  if (!s.ok()) return s;
  return out;
}

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
