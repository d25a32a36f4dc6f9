#ifndef PROTEAN_ADMIN_DOMAIN_ENV_SUBSTITUTION_H_
#define PROTEAN_ADMIN_DOMAIN_ENV_SUBSTITUTION_H_

// Protean's ${VAR} / ${VAR|default} substitution in configuration strings.
//
// Every "${NAME}" or "${NAME|default}" in a string is replaced by the variable's value
// (an empty value counts as set), or by the default when the variable is unset. Unset
// without a default is an error: "Environment variable NAME is not set". NAME is the text up
// to '|' or '}' (surrounding spaces trimmed); the default is the text up to the first '}'.
// A "${" without a closing '}' is left as it is.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace protean_admin::domain {

using GetEnvFunction = std::function<std::optional<std::string>(std::string_view)>;

// The process environment (::getenv).
std::optional<std::string> ProcessGetEnv(std::string_view name);

// Substitutes every ${...} in `text`. `*substituted` (optional) tells whether any was found.
absl::StatusOr<std::string> SubstituteEnv(std::string_view text, const GetEnvFunction& getenv,
                                          bool* substituted = nullptr);

}  // namespace protean_admin::domain

#endif  // PROTEAN_ADMIN_DOMAIN_ENV_SUBSTITUTION_H_
