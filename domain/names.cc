#include "domain/names.h"

#include <cstdint>
#include <string>

namespace protean_admin::domain {
namespace {

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsUpper(c) || IsLower(c) || IsDigit(c); }
char ToLower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
char ToUpper(char c) { return IsLower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

// ASCII folding of U+00C0..U+017F (Latin-1 Supplement letters and Latin Extended-A).
// Index = code point - 0xC0. Empty entries are not letters (×, ÷) and become separators.
const char* const kLatinFold[] = {
    // U+00C0..U+00FF
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",  //
    "D", "N", "O", "O", "O", "O", "O", "", "O", "U", "U", "U", "U", "Y", "TH", "ss",  //
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",  //
    "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",   //
    // U+0100..U+017F
    "A", "a", "A", "a", "A", "a", "C", "c", "C", "c", "C", "c", "C", "c", "D", "d",    //
    "D", "d", "E", "e", "E", "e", "E", "e", "E", "e", "E", "e", "G", "g", "G", "g",    //
    "G", "g", "G", "g", "H", "h", "H", "h", "I", "i", "I", "i", "I", "i", "I", "i",    //
    "I", "i", "IJ", "ij", "J", "j", "K", "k", "k", "L", "l", "L", "l", "L", "l", "L",  //
    "l", "L", "l", "N", "n", "N", "n", "N", "n", "n", "N", "n", "O", "o", "O", "o",    //
    "O", "o", "OE", "oe", "R", "r", "R", "r", "R", "r", "S", "s", "S", "s", "S", "s",  //
    "S", "s", "T", "t", "T", "t", "T", "t", "U", "u", "U", "u", "U", "u", "U", "u",    //
    "U", "u", "U", "u", "W", "w", "Y", "y", "Y", "Z", "z", "Z", "z", "Z", "z", "s",    //
};

// ASCII transliteration of UTF-8 text; unknown or malformed non-ASCII becomes ' '.
std::string Transliterate(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence (leniently: malformed bytes are single separators).
    int length = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    uint32_t code_point = 0;
    bool valid = length > 1 && i + length <= text.size();
    if (valid) {
      code_point = c & (0xFF >> (length + 1));
      for (int k = 1; k < length; ++k) {
        unsigned char cc = static_cast<unsigned char>(text[i + k]);
        if ((cc & 0xC0) != 0x80) {
          valid = false;
          break;
        }
        code_point = (code_point << 6) | (cc & 0x3F);
      }
    }
    if (!valid) length = 1;
    if (valid && code_point >= 0xC0 && code_point <= 0x17F) {
      const char* folded = kLatinFold[code_point - 0xC0];
      out += *folded != '\0' ? folded : " ";
    } else {
      out.push_back(' ');
    }
    i += static_cast<size_t>(length);
  }
  return out;
}

}  // namespace

std::string NormalizedName(std::string_view name) {
  std::string ascii = Transliterate(name);
  std::string out;
  bool pending_separator = false;
  for (char c : ascii) {
    if (IsAlnum(c)) {
      if (pending_separator && !out.empty()) out.push_back('_');
      pending_separator = false;
      out.push_back(ToLower(c));
    } else {
      pending_separator = true;
    }
  }
  return out;
}

std::string CamelCaseName(std::string_view name) {
  std::string ascii = Transliterate(name);
  std::string out;
  bool previous_cased = false;
  for (char c : ascii) {
    bool letter = IsUpper(c) || IsLower(c);
    if (letter) {
      out.push_back(previous_cased ? ToLower(c) : ToUpper(c));
    } else if (IsDigit(c)) {
      out.push_back(c);
    }
    previous_cased = letter;
  }
  return out;
}

std::string Underscore(std::string_view class_name) {
  // ([A-Z]+)([A-Z][a-z]) -> \1_\2
  std::string step1;
  step1.reserve(class_name.size() + 8);
  for (size_t i = 0; i < class_name.size();) {
    if (!IsUpper(class_name[i])) {
      step1.push_back(class_name[i++]);
      continue;
    }
    size_t j = i;
    while (j < class_name.size() && IsUpper(class_name[j])) ++j;
    if (j - i >= 2 && j < class_name.size() && IsLower(class_name[j])) {
      step1.append(class_name.substr(i, j - 1 - i));
      step1.push_back('_');
      step1.push_back(class_name[j - 1]);
    } else {
      step1.append(class_name.substr(i, j - i));
    }
    i = j;
  }
  // ([a-z\d])([A-Z]) -> \1_\2, then '-' -> '_', lower-case.
  std::string out;
  out.reserve(step1.size() + 8);
  for (size_t i = 0; i < step1.size(); ++i) {
    char c = step1[i];
    if (i > 0 && IsUpper(c) && (IsLower(step1[i - 1]) || IsDigit(step1[i - 1]))) {
      out.push_back('_');
    }
    out.push_back(c == '-' ? '_' : ToLower(c));
  }
  return out;
}

std::string StreamCategory(std::string_view normalized_name, std::string_view stream_category) {
  std::string out(normalized_name);
  out += "::";
  out += stream_category;
  return out;
}

std::string TypeString(std::string_view camel_case_name, std::string_view event, int version) {
  std::string out(camel_case_name);
  out += '.';
  out += event;
  out += ".v";
  out += std::to_string(version);
  return out;
}

}  // namespace protean_admin::domain
