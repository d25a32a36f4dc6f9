#ifndef PROTEAN_ADMIN_DOMAIN_LOADER_H_
#define PROTEAN_ADMIN_DOMAIN_LOADER_H_

// Finding and loading a domain.toml (docs/domain-toml.md). The format as implemented, with its
// defaults, the PROTEAN_ENV overlay rule (top-level tables that are not known sections are
// environment overlays, holding top-level keys only; the active one is deep-merged over the
// root) and the tolerated Protean keys, is in docs/domain-toml.md. Discovery rules:
// domain/discovery.h.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "domain/model.h"

namespace protean_admin::domain {

struct LoadOptions {
  // Directory every domain path is resolved in and confined to (the daemon's domain
  // root). Relative specs resolve against it; anything escaping it is refused.
  std::string domain_root = ".";
  // Environment lookup for ${VAR} substitution and PROTEAN_ENV; defaults to getenv.
  std::function<std::optional<std::string>(std::string_view)> getenv;
  // The domain's name when the file has no [domain] table (Protean names a domain in code,
  // not in domain.toml). Empty: PROTEAN_DOMAIN_NAME (through getenv); neither: an error.
  std::string domain_name;
};

// Resolves `spec` (".", a directory, a file, a dotted module path, each with an optional
// ":instance") inside the domain root, parses and validates it. On failure the status is
// FailedPrecondition (NotFound when no file matches) and its message reads
// "Error loading Protean domain: <reason>", the reason naming file, line and key where
// there are some.
absl::StatusOr<Domain> LoadDomain(std::string_view spec, const LoadOptions& options);

// Parses and validates TOML text directly (tests, fuzzing). `source_name` names it in
// messages; `instance` picks one of several [domains.<instance>] tables.
absl::StatusOr<Domain> ParseDomain(std::string_view toml_text, std::string_view source_name,
                                   std::string_view instance, const LoadOptions& options);

}  // namespace protean_admin::domain

#endif  // PROTEAN_ADMIN_DOMAIN_LOADER_H_
