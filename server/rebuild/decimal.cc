#include "server/rebuild/decimal.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"

namespace protean_admin::rebuild {
namespace {

void StripLeadingZeros(std::string& digits) {
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) {
    digits.assign(1, '0');
  } else if (first > 0) {
    digits.erase(0, first);
  }
}

// Compares magnitudes with equal scale.
int CompareMagnitude(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string AddMagnitude(const std::string& a, const std::string& b) {
  std::string out;
  out.reserve(std::max(a.size(), b.size()) + 1);
  int carry = 0;
  int i = static_cast<int>(a.size()) - 1, j = static_cast<int>(b.size()) - 1;
  while (i >= 0 || j >= 0 || carry) {
    int d = carry + (i >= 0 ? a[i--] - '0' : 0) + (j >= 0 ? b[j--] - '0' : 0);
    out.push_back(static_cast<char>('0' + d % 10));
    carry = d / 10;
  }
  std::reverse(out.begin(), out.end());
  StripLeadingZeros(out);
  return out;
}

// a - b where |a| >= |b|.
std::string SubMagnitude(const std::string& a, const std::string& b) {
  std::string out;
  out.reserve(a.size());
  int borrow = 0;
  int i = static_cast<int>(a.size()) - 1, j = static_cast<int>(b.size()) - 1;
  while (i >= 0) {
    int d = (a[i--] - '0') - borrow - (j >= 0 ? b[j--] - '0' : 0);
    borrow = d < 0 ? 1 : 0;
    if (d < 0) d += 10;
    out.push_back(static_cast<char>('0' + d));
  }
  std::reverse(out.begin(), out.end());
  StripLeadingZeros(out);
  return out;
}

std::string Scaled(const Decimal& d, int scale) {
  std::string digits = d.digits;
  if (digits != "0") digits.append(scale - d.scale, '0');
  return digits;
}

}  // namespace

absl::StatusOr<Decimal> Decimal::Parse(std::string_view text) {
  size_t i = 0, n = text.size();
  while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  while (n > i && std::isspace(static_cast<unsigned char>(text[n - 1]))) --n;
  Decimal d;
  if (i < n && (text[i] == '+' || text[i] == '-')) {
    d.negative = text[i] == '-';
    ++i;
  }
  std::string digits;
  int frac = 0;
  bool seen_point = false, seen_digit = false;
  for (; i < n; ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      seen_digit = true;
      if (seen_point) ++frac;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid input syntax for type numeric: \"", std::string(text), "\""));
  }
  int exponent = 0;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) {
      exp_negative = text[i] == '-';
      ++i;
    }
    if (i >= n) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid input syntax for type numeric: \"", std::string(text), "\""));
    }
    for (; i < n && text[i] >= '0' && text[i] <= '9'; ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > 1000) return absl::InvalidArgumentError("value overflows numeric format");
    }
    if (exp_negative) exponent = -exponent;
  }
  if (i != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid input syntax for type numeric: \"", std::string(text), "\""));
  }
  // value = digits * 10^(exponent - frac); display scale max(0, frac - exponent).
  int scale = frac - exponent;
  if (scale < 0) {
    digits.append(-scale, '0');
    scale = 0;
  }
  StripLeadingZeros(digits);
  d.digits = digits;
  d.scale = scale;
  if (d.IsZero()) d.negative = false;
  return d;
}

std::string Decimal::ToString() const {
  std::string padded = digits;
  if (static_cast<int>(padded.size()) <= scale) {
    padded.insert(0, scale - padded.size() + 1, '0');
  }
  std::string out;
  if (negative && !IsZero()) out.push_back('-');
  size_t int_len = padded.size() - scale;
  out.append(padded, 0, int_len);
  if (scale > 0) {
    out.push_back('.');
    out.append(padded, int_len, std::string::npos);
  }
  return out;
}

Decimal Add(const Decimal& a, const Decimal& b) {
  int scale = std::max(a.scale, b.scale);
  std::string ma = Scaled(a, scale), mb = Scaled(b, scale);
  Decimal out;
  out.scale = scale;
  if (a.negative == b.negative) {
    out.digits = AddMagnitude(ma, mb);
    out.negative = a.negative;
  } else {
    int c = CompareMagnitude(ma, mb);
    if (c == 0) {
      out.digits = "0";
      out.negative = false;
    } else if (c > 0) {
      out.digits = SubMagnitude(ma, mb);
      out.negative = a.negative;
    } else {
      out.digits = SubMagnitude(mb, ma);
      out.negative = b.negative;
    }
  }
  if (out.IsZero()) out.negative = false;
  return out;
}

Decimal Negate(const Decimal& a) {
  Decimal out = a;
  out.negative = !a.negative && !a.IsZero();
  return out;
}

Decimal Subtract(const Decimal& a, const Decimal& b) { return Add(a, Negate(b)); }

Decimal Multiply(const Decimal& a, const Decimal& b) {
  Decimal out;
  out.scale = a.scale + b.scale;
  if (a.IsZero() || b.IsZero()) return out;
  // Schoolbook multiplication on base-10 digits, least significant first.
  std::vector<int> product(a.digits.size() + b.digits.size(), 0);
  for (size_t i = 0; i < a.digits.size(); ++i) {
    int da = a.digits[a.digits.size() - 1 - i] - '0';
    if (da == 0) continue;
    int carry = 0;
    size_t j = 0;
    for (; j < b.digits.size(); ++j) {
      int db = b.digits[b.digits.size() - 1 - j] - '0';
      int v = product[i + j] + da * db + carry;
      product[i + j] = v % 10;
      carry = v / 10;
    }
    for (size_t k = i + j; carry != 0; ++k) {
      int v = product[k] + carry;
      product[k] = v % 10;
      carry = v / 10;
    }
  }
  out.digits.clear();
  out.digits.reserve(product.size());
  for (auto it = product.rbegin(); it != product.rend(); ++it) {
    out.digits.push_back(static_cast<char>('0' + *it));
  }
  StripLeadingZeros(out.digits);
  out.negative = a.negative != b.negative;
  return out;
}

int Compare(const Decimal& a, const Decimal& b) {
  if (a.negative != b.negative) return a.negative ? -1 : 1;  // zero is never negative
  int scale = std::max(a.scale, b.scale);
  int magnitude = CompareMagnitude(Scaled(a, scale), Scaled(b, scale));
  return a.negative ? -magnitude : magnitude;
}

absl::StatusOr<Decimal> ApplyTypmod(const Decimal& value, int precision, int scale) {
  Decimal out = value;
  if (scale >= 0) {
    if (out.scale > scale) {
      int drop = out.scale - scale;
      std::string digits = out.digits;
      if (static_cast<int>(digits.size()) <= drop) digits.insert(0, drop - digits.size() + 1, '0');
      char first_dropped = digits[digits.size() - drop];
      std::string kept = digits.substr(0, digits.size() - drop);
      StripLeadingZeros(kept);
      if (first_dropped >= '5') kept = AddMagnitude(kept, "1");
      out.digits = kept;
      out.scale = scale;
    } else if (out.scale < scale) {
      if (!out.IsZero()) out.digits.append(scale - out.scale, '0');
      out.scale = scale;
    }
    if (out.IsZero()) out.negative = false;
  }
  if (precision > 0) {
    int int_digits = out.IsZero() ? 0 : static_cast<int>(out.digits.size()) - out.scale;
    if (int_digits > precision - std::max(scale, 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "numeric field overflow: a field with precision ", precision, ", scale ", scale,
          " must round to an absolute value less than 10^", precision - std::max(scale, 0)));
    }
  }
  return out;
}

}  // namespace protean_admin::rebuild
