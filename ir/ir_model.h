#ifndef PROTEAN_ADMIN_IR_IR_MODEL_H_
#define PROTEAN_ADMIN_IR_IR_MODEL_H_

// The part of Protean's IR (the JSON `protean ir show` prints; schema v0.2.0, also v0.1.0's
// "v1"-style versions) that protean-admin reads: the domain's names, aggregates, events,
// projections and projectors (docs/ir.md). Everything else in the file is ignored.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace protean_admin::ir {

// One entry of a `fields` map.
struct IrField {
  std::string name;
  std::string kind;  // "standard", "text", "identifier", "auto", "list", "dict", ...
  std::string type;  // "String", "Integer", ...; empty for kinds without one
  std::optional<int64_t> max_length;
  std::string content_type;  // list fields: "String", "Integer", "dict", ...
  bool identifier = false;
  bool increment = false;  // auto fields
};

struct IrAggregate {
  std::string fqn;
  std::string name;
  std::string stream_category;  // full: "ordering::order"
};

struct IrEvent {
  std::string fqn;
  std::string name;
  std::string aggregate_fqn;  // part_of
  std::string type_string;    // __type__
  int version = 1;            // __version__ (integer, or "v1" in IR v0.1.0)
  std::vector<IrField> fields;

  bool HasField(std::string_view field) const;
};

struct IrProjection {
  std::string fqn;
  std::string name;
  std::string identity_field;
  std::string table;                 // options.schema_name
  std::string provider = "default";  // options.provider
  std::optional<std::string> cache;  // options.cache
  std::vector<IrField> fields;
};

struct IrProjector {
  std::string fqn;
  std::string name;
  std::string projection_fqn;  // projector_for
  std::vector<std::string> aggregates;
  std::vector<std::string> stream_categories;
  std::string subscription_type;     // "event_store", "stream" or empty (null)
  std::string subscription_profile;  // may be empty
  // __type__ -> handler method names, in file order.
  std::vector<std::pair<std::string, std::vector<std::string>>> handlers;
};

struct Ir {
  std::string source;  // file name, for messages
  std::string ir_version;
  std::string checksum;
  std::string name;
  std::string normalized_name;
  std::string camel_case_name;
  std::string identity_type = "string";  // "string", "integer" or "uuid"
  std::vector<IrAggregate> aggregates;
  std::vector<IrEvent> events;
  std::vector<IrProjection> projections;
  std::vector<IrProjector> projectors;

  const IrAggregate* FindAggregate(std::string_view fqn) const;
  const IrEvent* FindEventByType(std::string_view type_string) const;
  const IrProjection* FindProjection(std::string_view fqn) const;
};

// Parses IR JSON. Errors are InvalidArgument and name the source and the JSON path:
// "ir.json: clusters.app.User.events.app.Registered.__version__: expected an integer or
// \"v<n>\", got \"x\"".
absl::StatusOr<Ir> ParseIr(std::string_view json_text, std::string_view source_name);

// Reads and parses a file; an unreadable file is NotFound/InvalidArgument naming it.
absl::StatusOr<Ir> ReadIrFile(const std::string& path);

}  // namespace protean_admin::ir

#endif  // PROTEAN_ADMIN_IR_IR_MODEL_H_
