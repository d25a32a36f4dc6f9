#ifndef PROTEAN_ADMIN_SERVER_REBUILD_DECIMAL_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_DECIMAL_H_

// Exact decimal arithmetic on PostgreSQL numeric text, for folding `increment` on numeric
// columns and for the Lua form's decimal values without binary floating point: the same
// results (values and display scales) as PostgreSQL's numeric.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace protean_admin::rebuild {

struct Decimal {
  bool negative = false;
  std::string digits = "0";  // magnitude digits, no leading zeros (except "0")
  int scale = 0;             // digits after the decimal point

  // Parses numeric input as PostgreSQL does ("  -12.50 ", "1e3", "+.5"); NaN and infinities
  // are refused (InvalidArgument).
  static absl::StatusOr<Decimal> Parse(std::string_view text);
  std::string ToString() const;
  bool IsZero() const { return digits == "0"; }
};

// a + b with scale max(a.scale, b.scale), as numeric_add.
Decimal Add(const Decimal& a, const Decimal& b);

// -a, same scale.
Decimal Negate(const Decimal& a);

// a - b with scale max(a.scale, b.scale), as numeric_sub.
Decimal Subtract(const Decimal& a, const Decimal& b);

// a * b with scale a.scale + b.scale, as numeric_mul.
Decimal Multiply(const Decimal& a, const Decimal& b);

// -1, 0 or 1 as a < b, a = b, a > b by value (1.0 = 1.00), as numeric_cmp.
int Compare(const Decimal& a, const Decimal& b);

// Rounds (half away from zero) or pads to `scale`, then checks `precision` as a
// numeric(precision, scale) column does ("numeric field overflow").
absl::StatusOr<Decimal> ApplyTypmod(const Decimal& value, int precision, int scale);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_DECIMAL_H_
