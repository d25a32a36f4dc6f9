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
#include <vector>

#include "absl/status/statusor.h"

namespace protean_admin::domain {

using GetEnvFunction = std::function<std::optional<std::string>(std::string_view)>;

// The process environment (::getenv).
std::optional<std::string> ProcessGetEnv(std::string_view name);

// Substitutes every ${...} in `text`. `*substituted` (optional) tells whether any was found;
// `*defaulted` (optional) receives the names of the unset variables whose default was used.
absl::StatusOr<std::string> SubstituteEnv(std::string_view text, const GetEnvFunction& getenv,
                                          bool* substituted = nullptr,
                                          std::vector<std::string>* defaulted = nullptr);

// The one wording for a value built from a ${VAR|default}, resolved in the daemon's
// environment: "from the default in domain.toml:12; MESSAGE_DB_URL is not set in
// protean-admind's environment" (`where` is "file:line"; several names are joined with
// ", "). Empty when `unset` is empty.
std::string DefaultedValueNote(std::string_view where, const std::vector<std::string>& unset);

// `status` with " (the URI is <note>)" appended to its message; `status` as is when it is OK
// or `note` is empty. For every error that shows a URI built from a default.
absl::Status WithUriNote(const absl::Status& status, std::string_view note);

}  // namespace protean_admin::domain

#endif  // PROTEAN_ADMIN_DOMAIN_ENV_SUBSTITUTION_H_
