#ifndef PROTEAN_ADMIN_IR_IR_IMPORT_H_
#define PROTEAN_ADMIN_IR_IR_IMPORT_H_

// `protean-admin ir import`: a domain.toml (docs/domain-toml.md) written from Protean's IR
// (docs/ir.md): the domain's name, aggregates with their stream categories, every event with
// its version, projections with table, key and columns typed as Protean's PostgreSQL provider
// creates them (column_types.h), projectors with categories, subscriber and subscription, and
// per IR handler entry an action-form `set` marked for review (when the event carries the
// projection's key) or a commented stub. Database URIs are ${MESSAGE_DB_URL} and
// ${DATABASE_URL}.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/ir_model.h"

namespace protean_admin::ir {

struct ImportResult {
  std::string toml;                   // loads as it is (checked by ImportIr)
  std::vector<std::string> warnings;  // what was left out or guessed, one line each
};

// Writes the domain.toml of `ir`. Fails (InvalidArgument) when two aggregates, events,
// projections or projectors share a class name (domain.toml keys are class names), and
// (Internal) if the text written does not load with the daemon's loader.
absl::StatusOr<ImportResult> ImportIr(const Ir& ir);

// Whether a comment line of a domain.toml is a handler stub written by ImportIr:
// "# [projectors.<projector>.on.<event>]"; fills projector and event.
bool ParseHandlerStub(std::string_view line, std::string* projector, std::string* event);

}  // namespace protean_admin::ir

#endif  // PROTEAN_ADMIN_IR_IR_IMPORT_H_
