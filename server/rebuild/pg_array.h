#ifndef PROTEAN_ADMIN_SERVER_REBUILD_PG_ARRAY_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_PG_ARRAY_H_

// PostgreSQL array literals ({a,"b c",NULL,{1,2}}) as the Lua form reads and writes array
// columns: output text parsed into a flat list of tokens, and items quoted for input text.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

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

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_PG_ARRAY_H_
