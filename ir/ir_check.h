#ifndef PROTEAN_ADMIN_IR_IR_CHECK_H_
#define PROTEAN_ADMIN_IR_IR_CHECK_H_

// `protean-admin ir check`: drift between Protean's IR and a domain.toml (docs/ir.md):
// events (missing on either side, version, aggregate), fields a handler reads that its event
// no longer has, aggregates' stream categories, projections (key, table, columns and their
// types), projectors (projection, categories, subscriber) and handlers without a counterpart
// on either side. Elements are matched by class name.

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/model.h"
#include "ir/ir_model.h"

namespace protean_admin::ir {

struct Drift {
  std::string code;     // "EVENT_MISSING_IN_TOML", "EVENT_VERSION", ... (docs/ir.md)
  std::string element;  // what it is about: "events.OrderPlaced", "projectors.P.on.E"
  std::string message;  // one line, naming both sides
};

struct CheckResult {
  std::vector<Drift> drift;
  std::vector<Drift> notes;  // not drift: stubs still to write, IR handlers of other domains
};

// Handler stubs of a domain.toml's text ("# [projectors.P.on.E]" lines written by ir import):
// (projector, event) pairs that count as the IR handler's counterpart, noted, not drift.
std::set<std::pair<std::string, std::string>> FindHandlerStubs(std::string_view toml_text);

CheckResult CheckDrift(const Ir& ir, const domain::Domain& domain,
                       const std::set<std::pair<std::string, std::string>>& stubs);

// Protean's result envelope: {"version": "0.1.0", "status", "data", "diagnostics"}; status
// "pass" without drift, "fail" with some. Drift is a diagnostic of level "error", notes of
// level "info" (Protean's diagnostic shape: code, level, message, element).
nlohmann::ordered_json CheckEnvelope(const CheckResult& result, std::string_view ir_file,
                                     std::string_view domain_file);

// The envelope of input that could not be checked: status "error", one diagnostic.
nlohmann::ordered_json ErrorEnvelope(std::string_view code, std::string_view message);

}  // namespace protean_admin::ir

#endif  // PROTEAN_ADMIN_IR_IR_CHECK_H_
