#ifndef PROTEAN_ADMIN_DOMAIN_DISCOVERY_H_
#define PROTEAN_ADMIN_DOMAIN_DISCOVERY_H_

// Resolution of a `--domain` value to a file inside the domain root (docs/domain-toml.md, "Finding
// the file").
//
//  - The value splits at the first ':' not followed by '/' or '\' into path and instance
//    ("bank/domain.toml:eu" -> "bank/domain.toml" + "eu"). An empty path means ".".
//  - "." or a directory: ".domain.toml", then "domain.toml" in it.
//  - An existing file: that file.
//  - A dotted module path "my_package.domain" (identifiers joined by '.', no separators):
//    "my_package/domain.toml", then "my_package/domain/domain.toml".
//  - Relative paths resolve against the domain root; the resolved path (symlinks followed)
//    must stay inside the root: "..", absolute paths elsewhere and symlinks that leave it
//    are refused.
// Errors carry the reason only; LoadDomain adds "Error loading Protean domain: ".

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "domain/env_substitution.h"

namespace protean_admin::domain {

struct DomainSpec {
  std::string path;
  std::string instance;    // empty: none given
  bool separated = false;  // whether a ':' separator was found ("file.toml:" has one)
};

// Splits "path:instance" at the first ':' not followed by '/' or '\'.
DomainSpec SplitDomainSpec(std::string_view spec);

struct ResolvedDomainFile {
  std::filesystem::path file;  // canonical, inside the root
  std::string display_name;    // relative to the root, for messages
  std::string instance;
};

// Finds the file `spec` names inside `domain_root`. NotFound when nothing matches,
// PermissionDenied when the path leaves the root, InvalidArgument for a malformed spec.
absl::StatusOr<ResolvedDomainFile> ResolveDomainFile(std::string_view spec,
                                                     std::string_view domain_root);

// The spec the CLI sends: PROTEAN_DOMAIN (when set and not empty) wins over the --domain
// flag; an empty flag means ".". A null `getenv` reads the process environment.
std::string EffectiveDomainSpec(std::string_view flag_value, const GetEnvFunction& getenv);

}  // namespace protean_admin::domain

#endif  // PROTEAN_ADMIN_DOMAIN_DISCOVERY_H_
