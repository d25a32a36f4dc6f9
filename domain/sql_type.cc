#include "domain/sql_type.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace protean_admin::domain {
namespace {

bool NameStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool NameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}
bool Digit(char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }
bool Blank(char c) { return c == ' ' || c == '\t'; }

// A cursor over the type with one error: the first one met.
class TypeScanner {
 public:
  explicit TypeScanner(std::string_view type) : type_(type) {}

  absl::Status Scan() {
    if (ScanType()) return absl::OkStatus();
    return status_;
  }

 private:
  bool AtEnd() const { return at_ >= type_.size(); }
  char Peek() const { return type_[at_]; }
  void SkipBlanks() {
    while (!AtEnd() && Blank(Peek())) ++at_;
  }
  static std::string Describe(char c) {
    if (c >= 0x21 && c <= 0x7e) return absl::StrCat("'", std::string(1, c), "'");
    return absl::StrCat("byte 0x", absl::Hex(static_cast<unsigned char>(c)));
  }
  // Records the error at the current character; always false.
  bool Fail(const std::string& what) {
    status_ = absl::InvalidArgumentError(absl::StrCat(
        "invalid SQL type: ", what, AtEnd() ? "" : absl::StrCat(" at character ", at_ + 1),
        "; expected a type name with optional modifiers and array brackets, such as text, "
        "varchar(255), numeric(10, 2), double precision, timestamp(3) with time zone or "
        "text[]"));
    return false;
  }
  bool ScanType() {
    SkipBlanks();
    if (AtEnd()) return Fail("is empty");
    if (!NameStart(Peek())) return Fail("must start with a type name");
    while (!AtEnd() && NameStart(Peek())) {
      if (!Word()) return false;
      SkipBlanks();
    }
    while (!AtEnd() && Peek() == '[') {
      if (!ArrayBrackets()) return false;
      SkipBlanks();
    }
    if (!AtEnd()) return Fail(absl::StrCat("unexpected ", Describe(Peek())));
    return true;
  }
  bool Name() {
    if (AtEnd()) return Fail("ends where a name is expected");
    if (!NameStart(Peek())) return Fail(absl::StrCat("expected a name, got ", Describe(Peek())));
    while (!AtEnd() && NameChar(Peek())) ++at_;
    return true;
  }
  // name ("." name)* followed by an optional modifier list.
  bool Word() {
    if (!Name()) return false;
    while (!AtEnd() && Peek() == '.') {
      ++at_;
      if (!Name()) return false;
    }
    SkipBlanks();
    if (AtEnd() || Peek() != '(') return true;
    ++at_;
    while (true) {
      SkipBlanks();
      if (!Modifier()) return false;
      SkipBlanks();
      if (AtEnd()) return Fail("has an unclosed '('");
      if (Peek() == ')') break;
      if (Peek() != ',') {
        return Fail(absl::StrCat("unexpected ", Describe(Peek()), " in the modifiers"));
      }
      ++at_;
    }
    ++at_;
    return true;
  }
  bool Modifier() {
    if (!AtEnd() && NameStart(Peek())) return Name();
    if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++at_;
    if (AtEnd()) return Fail("has an unclosed '('");
    if (!Digit(Peek())) return Fail("expected a number or a name as modifier");
    while (!AtEnd() && Digit(Peek())) ++at_;
    return true;
  }
  bool ArrayBrackets() {
    ++at_;  // '['
    SkipBlanks();
    while (!AtEnd() && Digit(Peek())) ++at_;
    SkipBlanks();
    if (AtEnd()) return Fail("has an unclosed '['");
    if (Peek() != ']') return Fail("expected ']' or a number in the array brackets");
    ++at_;
    return true;
  }

  std::string_view type_;
  size_t at_ = 0;
  absl::Status status_;
};

}  // namespace

absl::Status CheckSqlType(std::string_view type) { return TypeScanner(type).Scan(); }

}  // namespace protean_admin::domain
