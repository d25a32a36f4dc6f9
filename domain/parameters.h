#ifndef PROTEAN_ADMIN_DOMAIN_PARAMETERS_H_
#define PROTEAN_ADMIN_DOMAIN_PARAMETERS_H_

// The parameter language of handlers (docs/domain-toml.md).
//
//   :field            payload field          (first segment: [A-Za-z_][A-Za-z0-9_]*)
//   :field.sub.sub    nested payload field   (later segments: [A-Za-z0-9_]+)
//   :$attribute       stored message attribute, one of MessageAttribute
//
// In SQL text every parameter occurrence becomes the next positional "$n" of a prepared
// statement (a parameter used twice is bound twice, so each occurrence can take the type of
// where it stands: docs/domain-toml.md "Parameter types"). Left untouched: "::casts", '...'
// literals (with '' escapes; E'...' also with backslash escapes), "quoted identifiers", -- and
// (nested)
// /* */ comments, and $tag$ dollar-quoted strings. A positional "$1" already in the text is
// refused (it would collide with the rewritten numbers).

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "domain/model.h"

namespace protean_admin::domain {

// "global_position" -> kGlobalPosition, ...; nullopt when unknown.
std::optional<MessageAttribute> MessageAttributeFromName(std::string_view name);
// kGlobalPosition -> "global_position".
std::string_view MessageAttributeName(MessageAttribute attribute);

// If `text` is exactly one parameter (":a", ":a.b", ":$attr"), returns it; nullopt when the
// text is anything else (a literal). An unknown ":$attr" is an error naming it.
absl::StatusOr<std::optional<Parameter>> ParseParameterReference(std::string_view text);

// Rewrites `sql` for a prepared statement. Errors (InvalidArgument) name the unknown
// attribute, the unterminated literal/comment, or the positional parameter.
absl::StatusOr<SqlStatement> RewriteSql(std::string_view sql);

}  // namespace protean_admin::domain

#endif  // PROTEAN_ADMIN_DOMAIN_PARAMETERS_H_
