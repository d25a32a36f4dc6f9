#ifndef PROTEAN_ADMIN_DOMAIN_UPCASTERS_H_
#define PROTEAN_ADMIN_DOMAIN_UPCASTERS_H_

// Upcaster chains: validation at domain load (Protean's rules and messages,
// docs/protean-compatibility.md §7 item 15) and application to JSON payloads.

#include <nlohmann/json.hpp>
#include <vector>

#include "absl/status/status.h"
#include "domain/model.h"

namespace protean_admin::domain {

// Validates the upcasters of `domain` (events, camel_case_name already set), per event, the
// way Protean's UpcasterChain.build_chains does. Errors (FailedPrecondition, without the
// "Error loading Protean domain" prefix):
//  - "Upcaster for unknown event `X`" (no [events.X])
//  - "Invalid from_version 0 for event `Test.X`: must be >= 1" (also to_version)
//  - "Duplicate upcaster for `Test.X` from version `v1`: upcasters[0] (→ v2) and
//     upcasters[1] (→ v3)"
//  - "Upcaster chain for `Test.X` does not converge to a single current version. Terminal
//     versions found: [...]" (cycles such as 1→2 with 2→1 have none, forks have several)
//  - "Upcaster chain for `Test.X` targets version `v3`, but no event is registered with type
//     string `Test.X.v3`" (the terminal version is not the event's current version)
//  - "Cycle detected in upcaster chain for `Test.X` at version `v1`" (a cycle beside a
//     converging chain: 1→2, 2→1, 3→4)
absl::Status ValidateUpcasters(const Domain& domain);

// Applies one step to a JSON object payload: rename (old -> new, overwriting; absent old
// fields are skipped), remove, defaults (only where absent), set (always). Top-level
// fields only. InvalidArgument when the payload is not an object.
absl::Status ApplyUpcaster(const Upcaster& upcaster, nlohmann::json& payload);

// Applies the steps in order (a Resolution's chain).
absl::Status ApplyUpcasters(const std::vector<const Upcaster*>& chain, nlohmann::json& payload);

}  // namespace protean_admin::domain

#endif  // PROTEAN_ADMIN_DOMAIN_UPCASTERS_H_
