#include "server/rebuild/sql_waves.h"

#include <algorithm>
#include <cctype>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace protean_admin::rebuild {
namespace {

struct Token {
  enum class Kind { kWord, kNumber, kString, kParam, kOp, kOpen, kClose, kComma, kDot, kOther };
  Kind kind = Kind::kOther;
  std::string text;  // lower case for words
  size_t begin = 0, end = 0;
  int param = -1;  // kParam: 0-based index
};

bool IsWordStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}
bool IsOpChar(char c) {
  return std::string_view("+-*/<>=~!@#%^&|?").find(c) != std::string_view::npos;
}

absl::Status Refuse(std::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Tokens of `s`; comments are skipped. Quoted identifiers, dollar quotes and E'' strings are
// refused (rare in handlers; refusing keeps the scan simple and safe).
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (s.substr(i, 2) == "--") {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (s.substr(i, 2) == "/*") {
      const size_t close = s.find("*/", i + 2);
      if (close == std::string_view::npos ||
          s.substr(i + 2, close - i - 2).find("/*") != std::string_view::npos) {
        return Refuse("a nested or unterminated comment");
      }
      i = close + 2;
      continue;
    }
    Token t;
    t.begin = i;
    if (IsWordStart(c)) {
      while (i < s.size() && IsWordChar(s[i])) ++i;
      t.kind = Token::Kind::kWord;
      t.text = Lower(s.substr(t.begin, i - t.begin));
      if (i < s.size() && s[i] == '\'') return Refuse("a prefixed string literal (E'', B'', ...)");
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      while (i < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
              ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E')))) {
        ++i;
      }
      t.kind = Token::Kind::kNumber;
    } else if (c == '\'') {
      for (++i;; ++i) {
        if (i >= s.size()) return Refuse("an unterminated string literal");
        if (s[i] != '\'') continue;
        if (i + 1 < s.size() && s[i + 1] == '\'') {
          ++i;
          continue;
        }
        break;
      }
      ++i;
      t.kind = Token::Kind::kString;
    } else if (c == '$') {
      ++i;
      if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) {
        return Refuse("a dollar-quoted string");
      }
      int n = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
        n = n * 10 + (s[i++] - '0');
      t.kind = Token::Kind::kParam;
      t.param = n - 1;
    } else if (c == ':' && i + 1 < s.size() && s[i + 1] == ':') {
      i += 2;
      t.kind = Token::Kind::kOp;
      t.text = "::";
    } else if (IsOpChar(c)) {
      while (i < s.size() && IsOpChar(s[i])) ++i;
      t.kind = Token::Kind::kOp;
      t.text = std::string(s.substr(t.begin, i - t.begin));
    } else {
      ++i;
      t.text = std::string(1, c);
      t.kind = c == '('   ? Token::Kind::kOpen
               : c == ')' ? Token::Kind::kClose
               : c == ',' ? Token::Kind::kComma
               : c == '.' ? Token::Kind::kDot
                          : Token::Kind::kOther;
      if (c == '"') return Refuse("a quoted identifier");
      if (t.kind == Token::Kind::kOther && c != '[' && c != ']') {
        return Refuse(absl::StrCat("the character '", t.text, "'"));
      }
    }
    t.end = i;
    out.push_back(std::move(t));
  }
  return out;
}

// Functions that read no table and depend on nothing but their arguments (and settings).
const absl::flat_hash_set<std::string>& Functions() {
  static const auto* const kFunctions = new absl::flat_hash_set<std::string>{"coalesce",
                                                                             "nullif",
                                                                             "greatest",
                                                                             "least",
                                                                             "abs",
                                                                             "round",
                                                                             "trunc",
                                                                             "floor",
                                                                             "ceil",
                                                                             "ceiling",
                                                                             "sign",
                                                                             "mod",
                                                                             "power",
                                                                             "sqrt",
                                                                             "lower",
                                                                             "upper",
                                                                             "length",
                                                                             "char_length",
                                                                             "concat",
                                                                             "concat_ws",
                                                                             "substr",
                                                                             "left",
                                                                             "right",
                                                                             "btrim",
                                                                             "ltrim",
                                                                             "rtrim",
                                                                             "replace",
                                                                             "split_part",
                                                                             "jsonb_build_object",
                                                                             "json_build_object",
                                                                             "jsonb_build_array",
                                                                             "json_build_array",
                                                                             "to_jsonb",
                                                                             "to_json",
                                                                             "jsonb_set",
                                                                             "jsonb_strip_nulls",
                                                                             "array_append",
                                                                             "array_prepend",
                                                                             "array_remove",
                                                                             "array_cat",
                                                                             "cardinality",
                                                                             "array_length",
                                                                             "date_trunc",
                                                                             "to_timestamp",
                                                                             "now",
                                                                             "current_setting"};
  return *kFunctions;
}

// Keywords of expressions (and of multi-word type names).
const absl::flat_hash_set<std::string>& Keywords() {
  static const auto* const kKeywords =
      new absl::flat_hash_set<std::string>{"and",     "or",       "not",
                                           "is",      "null",     "true",
                                           "false",   "case",     "when",
                                           "then",    "else",     "end",
                                           "as",      "distinct", "in",
                                           "between", "like",     "ilike",
                                           "array",   "unknown",  "precision",
                                           "varying", "with",     "without",
                                           "time",    "zone",     "current_timestamp"};
  return *kKeywords;
}

const absl::flat_hash_set<std::string>& Operators() {
  static const auto* const kOperators = new absl::flat_hash_set<std::string>{
      "+",  "-",  "*",  "/",  "%",   "^",  "||",  "=",  "<>", "!=", "<",  ">",
      "<=", ">=", "::", "->", "->>", "#>", "#>>", "@>", "<@", "?",  "?|", "?&"};
  return *kOperators;
}

struct Scope {
  std::string_view table, alias;
  const std::vector<std::string>* columns;
  bool excluded = false;    // EXCLUDED. may be named (after ON CONFLICT)
  bool parameters = false;  // $n may appear (VALUES)
};

bool IsColumn(const Scope& scope, const std::string& word) {
  return std::find(scope.columns->begin(), scope.columns->end(), word) != scope.columns->end();
}

// Checks tokens [begin, end) of an expression region.
absl::Status CheckExpression(const std::vector<Token>& t, size_t begin, size_t end,
                             const Scope& scope) {
  for (size_t i = begin; i < end; ++i) {
    const Token& k = t[i];
    const bool type_context =
        i > begin && ((t[i - 1].kind == Token::Kind::kOp && t[i - 1].text == "::") ||
                      (t[i - 1].kind == Token::Kind::kWord && t[i - 1].text == "as"));
    switch (k.kind) {
      case Token::Kind::kParam:
        if (!scope.parameters) return Refuse("a parameter after ON CONFLICT");
        break;
      case Token::Kind::kOp:
        if (!Operators().contains(k.text)) return Refuse(absl::StrCat("the operator ", k.text));
        break;
      case Token::Kind::kWord: {
        const bool call = i + 1 < end && t[i + 1].kind == Token::Kind::kOpen;
        const bool qualifier = i + 1 < end && t[i + 1].kind == Token::Kind::kDot;
        if (type_context) break;  // a type name (CAST(x AS numeric(12,2)), x::text)
        if (qualifier) {
          const bool own = k.text == scope.table || (!scope.alias.empty() && k.text == scope.alias);
          if (!own && !(scope.excluded && k.text == "excluded")) {
            return Refuse(absl::StrCat("the reference to ", k.text, "."));
          }
          if (i + 2 >= end || t[i + 2].kind != Token::Kind::kWord ||
              !IsColumn(scope, t[i + 2].text)) {
            return Refuse(absl::StrCat("a qualified name that is not a column of the table"));
          }
          i += 2;
          break;
        }
        if (Keywords().contains(k.text)) break;
        if (scope.excluded && k.text == "where") break;  // DO UPDATE SET ... WHERE
        if (call) {
          if (k.text == "cast" || Functions().contains(k.text)) break;
          return Refuse(absl::StrCat("the function ", k.text, "()"));
        }
        if (k.text == "from" && i > begin && t[i - 1].text == "distinct") break;
        if (!scope.excluded || !IsColumn(scope, k.text)) {
          return Refuse(absl::StrCat("the word ", k.text));
        }
        break;
      }
      case Token::Kind::kDot:
        return Refuse("a qualified name");
      default:
        break;
    }
  }
  return absl::OkStatus();
}

// The index of the token closing the parenthesis opened at `open`, or t.size().
size_t Matching(const std::vector<Token>& t, size_t open) {
  int depth = 0;
  for (size_t i = open; i < t.size(); ++i) {
    if (t[i].kind == Token::Kind::kOpen) ++depth;
    if (t[i].kind == Token::Kind::kClose && --depth == 0) return i;
  }
  return t.size();
}

bool IsWord(const std::vector<Token>& t, size_t i, std::string_view word) {
  return i < t.size() && t[i].kind == Token::Kind::kWord && t[i].text == word;
}

struct Parsed {
  std::string alias;
  std::vector<std::string> columns;
  size_t values_at = 0;                          // the VALUES token
  std::vector<std::pair<size_t, size_t>> exprs;  // token ranges of the values
  size_t on_at = 0;                              // the ON of ON CONFLICT
};

// INSERT INTO table [AS a] (cols) VALUES (exprs) ON CONFLICT (key) DO ...
absl::StatusOr<Parsed> ParseInsert(const std::vector<Token>& t, std::string_view table,
                                   std::string_view key) {
  Parsed p;
  if (!IsWord(t, 0, "insert") || !IsWord(t, 1, "into")) return Refuse("not an INSERT");
  size_t i = 3;
  if (i < t.size() && t[i].kind == Token::Kind::kDot) return Refuse("a schema-qualified table");
  if (!IsWord(t, 2, table)) return Refuse("an INSERT into another table");
  if (IsWord(t, i, "as") && i + 1 < t.size() && t[i + 1].kind == Token::Kind::kWord) {
    p.alias = t[i + 1].text;
    i += 2;
  }
  if (i >= t.size() || t[i].kind != Token::Kind::kOpen) return Refuse("no column list");
  const size_t cols_end = Matching(t, i);
  for (size_t c = i + 1; c < cols_end; c += 2) {
    if (t[c].kind != Token::Kind::kWord) return Refuse("a column list that is not plain names");
    p.columns.push_back(t[c].text);
    if (c + 1 < cols_end && t[c + 1].kind != Token::Kind::kComma) {
      return Refuse("a column list that is not plain names");
    }
  }
  i = cols_end + 1;
  if (!IsWord(t, i, "values") || i + 1 >= t.size() || t[i + 1].kind != Token::Kind::kOpen) {
    return Refuse("not INSERT ... VALUES (one row)");
  }
  p.values_at = i;
  const size_t values_end = Matching(t, i + 1);
  if (values_end >= t.size()) return Refuse("unbalanced parentheses");
  size_t from = i + 2;
  int depth = 0;
  for (size_t v = i + 2; v <= values_end; ++v) {
    if (t[v].kind == Token::Kind::kOpen) ++depth;
    if (t[v].kind == Token::Kind::kClose) --depth;
    if ((t[v].kind == Token::Kind::kComma && depth == 0) || v == values_end) {
      if (from == v) return Refuse("an empty value");
      p.exprs.emplace_back(from, v);
      from = v + 1;
    }
  }
  if (p.exprs.size() != p.columns.size()) return Refuse("as many values as columns expected");
  i = values_end + 1;
  p.on_at = i;
  if (!IsWord(t, i, "on") || !IsWord(t, i + 1, "conflict") || i + 4 >= t.size() ||
      t[i + 2].kind != Token::Kind::kOpen || !IsWord(t, i + 3, key) ||
      t[i + 4].kind != Token::Kind::kClose) {
    return Refuse(absl::StrCat("no ON CONFLICT (", std::string(key), ") (the projection's key)"));
  }
  return p;
}

}  // namespace

namespace {

// A statement of the recognized shape: its tokens, its INSERT's parts and where DO starts.
struct Recognized {
  std::vector<Token> tokens;
  Parsed parsed;
  int key_parameter = 0;
  size_t do_at = 0;
  bool do_nothing = false;
};

absl::StatusOr<Recognized> Recognize(const domain::SqlStatement& statement, std::string_view table,
                                     std::string_view key,
                                     const std::vector<std::string>& columns) {
  Recognized r;
  ASSIGN_OR_RETURN(r.tokens, Tokenize(statement.text));
  const std::vector<Token>& t = r.tokens;
  const std::string lower_table = Lower(table);
  const std::string lower_key = Lower(key);
  ASSIGN_OR_RETURN(r.parsed, ParseInsert(t, lower_table, lower_key));
  const Parsed& p = r.parsed;
  const auto key_at = std::find(p.columns.begin(), p.columns.end(), lower_key);
  if (key_at == p.columns.end()) return Refuse("the key column is not inserted");
  const auto [kb, ke] = p.exprs[key_at - p.columns.begin()];
  if (ke != kb + 1 || t[kb].kind != Token::Kind::kParam) {
    return Refuse("the key's value is not a plain parameter");
  }
  r.key_parameter = t[kb].param;
  Scope scope{lower_table, p.alias, &columns, false, true};
  for (const auto& [b, e] : p.exprs) {
    RETURN_IF_ERROR(CheckExpression(t, b, e, scope));
    if (e == b + 1 && IsWord(t, b, "default")) return Refuse("DEFAULT in VALUES");
  }
  r.do_at = p.on_at + 5;
  const size_t i = r.do_at;
  if (!IsWord(t, i, "do")) return Refuse("no DO after ON CONFLICT");
  if (IsWord(t, i + 1, "update") && IsWord(t, i + 2, "set")) {
    scope.excluded = true;
    scope.parameters = false;
    RETURN_IF_ERROR(CheckExpression(t, i + 3, t.size(), scope));
    // WHERE is the clause's only other word (a second WHERE, FROM, RETURNING are refused).
    int wheres = 0;
    for (size_t w = i + 3; w < t.size(); ++w) wheres += IsWord(t, w, "where") ? 1 : 0;
    if (wheres > 1) return Refuse("more than one WHERE");
  } else if (!IsWord(t, i + 1, "nothing") || i + 2 != t.size()) {
    return Refuse("neither DO UPDATE SET nor DO NOTHING");
  } else {
    r.do_nothing = true;
  }
  return r;
}

// The texts of tokens [begin, end): words lower case, "$n" for parameters, the rest as written.
std::vector<std::string> TokenTexts(const std::vector<Token>& t, std::string_view text,
                                    size_t begin, size_t end) {
  std::vector<std::string> out;
  for (size_t i = begin; i < end; ++i) {
    if (t[i].kind == Token::Kind::kParam) {
      out.push_back(absl::StrCat("$", t[i].param + 1));
    } else if (t[i].kind == Token::Kind::kWord) {
      out.push_back(t[i].text);
    } else {
      out.emplace_back(text.substr(t[i].begin, t[i].end - t[i].begin));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<WaveForm> RecognizeWaveStatement(const domain::SqlStatement& statement,
                                                std::string_view table, std::string_view key,
                                                const std::vector<std::string>& columns) {
  ASSIGN_OR_RETURN(Recognized r, Recognize(statement, table, key, columns));
  const std::vector<Token>& t = r.tokens;
  const Parsed& p = r.parsed;
  WaveForm form;
  form.inserted = p.columns;
  form.key_parameter = r.key_parameter;
  // Every parameter in VALUES (checked above: none after ON CONFLICT), each once.
  const std::string& text = statement.text;
  std::string select;
  size_t copied = t[p.values_at + 1].end;
  const size_t values_close = p.exprs.back().second;
  for (size_t k = p.values_at + 2; k < values_close; ++k) {
    if (t[k].kind != Token::Kind::kParam) continue;
    absl::StrAppend(&select, text.substr(copied, t[k].begin - copied), "u.p", t[k].param + 1);
    copied = t[k].end;
  }
  absl::StrAppend(&select, text.substr(copied, t[values_close].begin - copied));
  std::vector<std::string> arrays, names;
  for (size_t n = 0; n < statement.parameters.size(); ++n) {
    arrays.push_back(absl::StrCat("$", n + 1));
    names.push_back(absl::StrCat("p", n + 1));
  }
  form.text = absl::StrCat(text.substr(0, t[p.values_at].begin), "SELECT ", select, " FROM unnest(",
                           absl::StrJoin(arrays, ", "), ") AS u(", absl::StrJoin(names, ", "), ") ",
                           text.substr(t[p.on_at].begin));
  return form;
}

absl::StatusOr<UpsertParts> SplitUpsert(const domain::SqlStatement& statement,
                                        std::string_view table, std::string_view key,
                                        const std::vector<std::string>& columns) {
  ASSIGN_OR_RETURN(Recognized r, Recognize(statement, table, key, columns));
  const std::vector<Token>& t = r.tokens;
  UpsertParts parts;
  parts.alias = r.parsed.alias;
  parts.columns = r.parsed.columns;
  parts.key_parameter = r.key_parameter;
  parts.do_nothing = r.do_nothing;
  for (const auto& [b, e] : r.parsed.exprs) {
    parts.values.push_back(TokenTexts(t, statement.text, b, e));
  }
  if (r.do_nothing) return parts;
  // column = expression, separated by commas outside parentheses, up to WHERE or the end.
  size_t i = r.do_at + 3;
  while (i < t.size()) {
    if (t[i].kind != Token::Kind::kWord || i + 1 >= t.size() || t[i + 1].text != "=") {
      return Refuse("an assignment that is not column = expression");
    }
    size_t end = i + 2;
    for (int depth = 0; end < t.size(); ++end) {
      if (t[end].kind == Token::Kind::kOpen) ++depth;
      if (t[end].kind == Token::Kind::kClose) --depth;
      if (depth == 0 && (t[end].kind == Token::Kind::kComma || IsWord(t, end, "where"))) break;
    }
    parts.assignments.emplace_back(t[i].text, TokenTexts(t, statement.text, i + 2, end));
    if (IsWord(t, end, "where")) {
      parts.has_where = true;
      break;
    }
    i = end + 1;
  }
  return parts;
}

bool IsCanonicalWaveKey(WaveKeyKind kind, const storage::PgParam& value) {
  if (!value.has_value()) return false;
  if (kind == WaveKeyKind::kText) return true;
  if (kind == WaveKeyKind::kVarchar) return value->empty() || value->back() != ' ';
  const std::string& v = *value;
  size_t i = !v.empty() && v[0] == '-' ? 1 : 0;
  if (i >= v.size() || v.size() > 20) return false;
  if (v[i] == '0') return v.size() == 1;
  for (; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
  }
  return true;
}

std::string WaveArrayLiteral(const std::vector<const storage::PgParam*>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    if (!values[i]->has_value()) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : **values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace protean_admin::rebuild
