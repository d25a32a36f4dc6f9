#ifndef PROTEAN_ADMIN_SERVER_REBUILD_PG_ARRAY_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_PG_ARRAY_H_

// PostgreSQL array literals ({a,"b c",NULL,{1,2}}) as handlers read and write array columns:
// output text parsed into a flat list of tokens, items quoted for input text, and JSON arrays
// (of events and domain.toml) written as literals.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace protean_admin::rebuild {

struct PgArrayToken {
  enum class Kind { kBegin, kEnd, kNull, kItem };
  Kind kind = Kind::kItem;
  std::string text;  // kItem: the item, unquoted and unescaped
};

// Parses array text as array_in does for the ',' delimiter: `{` and `}` around each
// dimension, items quoted ("a \"b\"") or not (surrounding spaces dropped), backslash escapes,
// an unquoted NULL (any case) as NULL, an optional dimension decoration ("[0:1]=") skipped.
// `tokens` is replaced. InvalidArgument ("malformed array literal: ...") otherwise.
absl::Status ParsePgArray(std::string_view text, std::vector<PgArrayToken>& tokens);

// Appends `item` quoted for an array literal: "..." with `"` and `\` escaped.
void AppendPgArrayItem(std::string& out, std::string_view item);

// A JSON array (text) as a PostgreSQL array literal: {"a","b"}, {1,2.5}, NULL items. With
// `json_elements` (json[], jsonb[]) every item is its JSON text, quoted ("{\"a\": 1}", "\"s\""
// for the string s); otherwise strings are their text, numbers and booleans as written,
// objects their JSON text and nested arrays sub-arrays, which must have matching lengths and
// not be empty, as PostgreSQL requires. InvalidArgument when `json` is not such an array.
absl::StatusOr<std::string> PgArrayLiteral(std::string_view json, bool json_elements);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_PG_ARRAY_H_
