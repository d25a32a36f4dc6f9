#include "ir/ir_check.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ir/column_types.h"
#include "ir/ir_import.h"

namespace protean_admin::ir {
namespace {

using domain::Domain;

void AddValueField(const domain::Value& value, std::set<std::string>* out) {
  if (value.parameter.has_value() && !value.parameter->attribute.has_value() &&
      !value.parameter->path.empty()) {
    out->insert(value.parameter->path.front());
  }
}

// Top-level payload fields a handler reads (action values, SQL parameters; Lua is opaque).
std::set<std::string> FieldsRead(const domain::Handler& handler) {
  std::set<std::string> fields;
  AddValueField(handler.key, &fields);
  for (const auto* values : {&handler.set, &handler.insert, &handler.update, &handler.increment}) {
    for (const auto& [column, value] : *values) AddValueField(value, &fields);
  }
  for (const domain::SqlStatement& statement : handler.sql) {
    for (const domain::Parameter& p : statement.parameters) {
      if (!p.attribute.has_value() && !p.path.empty()) fields.insert(p.path.front());
    }
  }
  return fields;
}

class Checker {
 public:
  Checker(const Ir& ir, const Domain& domain,
          const std::set<std::pair<std::string, std::string>>& stubs)
      : ir_(ir), domain_(domain), stubs_(stubs) {}

  CheckResult Run() {
    Aggregates();
    Events();
    Projections();
    Projectors();
    return std::move(result_);
  }

 private:
  void Add(std::string code, std::string element, std::string message) {
    result_.drift.push_back({std::move(code), std::move(element), std::move(message)});
  }
  void Note(std::string code, std::string element, std::string message) {
    result_.notes.push_back({std::move(code), std::move(element), std::move(message)});
  }
  const IrEvent* IrEventNamed(std::string_view name) const {
    for (const IrEvent& e : ir_.events) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }
  void Aggregates();
  void Events();
  void Projections();
  void Columns(const IrProjection& ir_projection, const domain::Projection& projection);
  void Projectors();
  void Handlers(const IrProjector& ir_projector, const domain::Projector& projector);
  void HandlerFields(const domain::Projector& projector);

  const Ir& ir_;
  const Domain& domain_;
  const std::set<std::pair<std::string, std::string>>& stubs_;
  CheckResult result_;
};

void Checker::Aggregates() {
  for (const IrAggregate& a : ir_.aggregates) {
    const domain::Aggregate* mine = domain_.FindAggregate(a.name);
    const std::string element = absl::StrCat("aggregates.", a.name);
    if (mine == nullptr) {
      Add("AGGREGATE_MISSING_IN_TOML", element,
          absl::StrCat("aggregate ", a.name, " (", a.fqn, ") is in the IR, not in domain.toml"));
    } else if (mine->stream_category != a.stream_category) {
      Add("AGGREGATE_CATEGORY", element,
          absl::StrCat("aggregate ", a.name, ": stream category \"", a.stream_category,
                       "\" in the IR, \"", mine->stream_category, "\" in domain.toml"));
    }
  }
  for (const domain::Aggregate& a : domain_.aggregates) {
    bool found = std::any_of(ir_.aggregates.begin(), ir_.aggregates.end(),
                             [&](const IrAggregate& i) { return i.name == a.name; });
    if (!found) {
      Add("AGGREGATE_MISSING_IN_IR", absl::StrCat("aggregates.", a.name),
          absl::StrCat("aggregate ", a.name, " is in domain.toml, not in the IR"));
    }
  }
}

void Checker::Events() {
  for (const IrEvent& e : ir_.events) {
    const domain::Event* mine = domain_.FindEvent(e.name);
    const std::string element = absl::StrCat("events.", e.name);
    const IrAggregate* aggregate = ir_.FindAggregate(e.aggregate_fqn);
    if (mine == nullptr) {
      Add("EVENT_MISSING_IN_TOML", element,
          absl::StrCat("event ", e.name, " (", e.type_string,
                       ") is in the IR, not in domain.toml"));
      continue;
    }
    if (mine->version != e.version) {
      Add("EVENT_VERSION", element,
          absl::StrCat("event ", e.name, ": version ", e.version, " in the IR (", e.type_string,
                       "), ", mine->version, " in domain.toml (", mine->type_string, ")"));
    }
    if (aggregate != nullptr && mine->aggregate != aggregate->name) {
      Add("EVENT_AGGREGATE", element,
          absl::StrCat("event ", e.name, ": part of ", aggregate->name, " in the IR, of ",
                       mine->aggregate, " in domain.toml"));
    }
  }
  for (const domain::Event& e : domain_.events) {
    if (IrEventNamed(e.name) == nullptr) {
      Add("EVENT_MISSING_IN_IR", absl::StrCat("events.", e.name),
          absl::StrCat("event ", e.name, " (", e.type_string,
                       ") is in domain.toml, not in the IR"));
    }
  }
}

void Checker::Projections() {
  for (const IrProjection& p : ir_.projections) {
    const domain::Projection* mine = domain_.FindProjection(p.name);
    const std::string element = absl::StrCat("projections.", p.name);
    if (mine == nullptr) {
      Add("PROJECTION_MISSING_IN_TOML", element,
          absl::StrCat("projection ", p.name, " (", p.fqn, ") is in the IR, not in domain.toml"));
      continue;
    }
    if (mine->key != p.identity_field) {
      Add("PROJECTION_KEY", element,
          absl::StrCat("projection ", p.name, ": key \"", p.identity_field, "\" in the IR, \"",
                       mine->key, "\" in domain.toml"));
    }
    if (!mine->cache_backed() && !p.cache.has_value() && mine->table != p.table) {
      Add("PROJECTION_TABLE", element,
          absl::StrCat("projection ", p.name, ": table \"", p.table, "\" in the IR, \"",
                       mine->table, "\" in domain.toml"));
    }
    Columns(p, *mine);
  }
  for (const domain::Projection& p : domain_.projections) {
    bool found = std::any_of(ir_.projections.begin(), ir_.projections.end(),
                             [&](const IrProjection& i) { return i.name == p.name; });
    if (!found) {
      Add("PROJECTION_MISSING_IN_IR", absl::StrCat("projections.", p.name),
          absl::StrCat("projection ", p.name, " is in domain.toml, not in the IR"));
    }
  }
}

// Declared columns against the IR's fields (nothing to compare when none are declared: the
// table is then made beforehand).
void Checker::Columns(const IrProjection& ir_projection, const domain::Projection& projection) {
  if (projection.columns.empty()) return;
  std::map<std::string, std::string> declared(projection.columns.begin(), projection.columns.end());
  const std::string prefix = absl::StrCat("projections.", projection.name, ".columns.");
  for (const IrField& field : ir_projection.fields) {
    absl::StatusOr<std::string> type = ColumnTypeFor(field, ir_.identity_type);
    auto it = declared.find(field.name);
    if (it == declared.end()) {
      if (type.ok()) {
        Add("COLUMN_MISSING_IN_TOML", prefix + field.name,
            absl::StrCat("projection ", projection.name, ": field ", field.name, " (", *type,
                         ") is in the IR, not among the declared columns"));
      }
      continue;
    }
    if (type.ok() && CanonicalColumnType(*type) != CanonicalColumnType(it->second)) {
      Add("COLUMN_TYPE", prefix + field.name,
          absl::StrCat("projection ", projection.name, ", column ", field.name, ": ", *type,
                       " from the IR, ", it->second, " in domain.toml"));
    }
    declared.erase(it);
  }
  for (const auto& [column, type] : declared) {
    Add("COLUMN_MISSING_IN_IR", prefix + column,
        absl::StrCat("projection ", projection.name, ": column ", column, " (", type,
                     ") is in domain.toml, not a field in the IR"));
  }
}

void Checker::Projectors() {
  for (const IrProjector& p : ir_.projectors) {
    const domain::Projector* mine = nullptr;
    for (const domain::Projector& d : domain_.projectors) {
      if (d.name == p.name) mine = &d;
    }
    const std::string element = absl::StrCat("projectors.", p.name);
    if (mine == nullptr) {
      Add("PROJECTOR_MISSING_IN_TOML", element,
          absl::StrCat("projector ", p.name, " (", p.fqn, ") is in the IR, not in domain.toml"));
      continue;
    }
    const IrProjection* projection = ir_.FindProjection(p.projection_fqn);
    if (projection != nullptr && mine->projector_for != projection->name) {
      Add("PROJECTOR_PROJECTION", element,
          absl::StrCat("projector ", p.name, ": for ", projection->name, " in the IR, for ",
                       mine->projector_for, " in domain.toml"));
    }
    std::set<std::string> theirs(p.stream_categories.begin(), p.stream_categories.end());
    std::set<std::string> ours(mine->categories.begin(), mine->categories.end());
    if (theirs != ours) {
      Add("PROJECTOR_CATEGORIES", element,
          absl::StrCat("projector ", p.name, ": stream categories [", absl::StrJoin(theirs, ", "),
                       "] in the IR, [", absl::StrJoin(ours, ", "), "] in domain.toml"));
    }
    if (mine->subscriber.has_value() && *mine->subscriber != p.fqn) {
      Add("PROJECTOR_SUBSCRIBER", element,
          absl::StrCat("projector ", p.name, ": subscriber \"", *mine->subscriber,
                       "\" in domain.toml, but the IR's projector is ", p.fqn));
    }
    Handlers(p, *mine);
  }
  for (const domain::Projector& d : domain_.projectors) {
    bool found = std::any_of(ir_.projectors.begin(), ir_.projectors.end(),
                             [&](const IrProjector& i) { return i.name == d.name; });
    if (!found) {
      Add("PROJECTOR_MISSING_IN_IR", absl::StrCat("projectors.", d.name),
          absl::StrCat("projector ", d.name, " is in domain.toml, not in the IR"));
    }
    HandlerFields(d);
  }
}

void Checker::Handlers(const IrProjector& ir_projector, const domain::Projector& projector) {
  std::set<std::string> handled;  // event names the IR's projector handles
  for (const auto& [type, methods] : ir_projector.handlers) {
    const IrEvent* event = ir_.FindEventByType(type);
    const std::string methods_text = absl::StrJoin(methods, ", ");
    if (event == nullptr) {
      Note("IR_HANDLER_UNRESOLVED", absl::StrCat("projectors.", projector.name),
           absl::StrCat("projector ", projector.name, ": ", methods_text, " handles ", type,
                        ", not an event of this domain's aggregates in the IR"));
      continue;
    }
    handled.insert(event->name);
    const std::string element = absl::StrCat("projectors.", projector.name, ".on.", event->name);
    if (projector.FindHandler(event->name) != nullptr) continue;
    if (stubs_.count({projector.name, event->name})) {
      Note("HANDLER_STUB", element,
           absl::StrCat("projector ", projector.name, ": the handler of ", event->name, " (",
                        methods_text, ") is a stub still to be written"));
    } else {
      Add("HANDLER_MISSING_IN_TOML", element,
          absl::StrCat("projector ", projector.name, ": ", methods_text, " handles ", event->name,
                       " in the IR; domain.toml has no handler for it"));
    }
  }
  for (const domain::Handler& h : projector.handlers) {
    if (handled.count(h.event)) continue;
    Add("HANDLER_MISSING_IN_IR", absl::StrCat("projectors.", projector.name, ".on.", h.event),
        absl::StrCat("projector ", projector.name, ": domain.toml handles ", h.event, " (", h.where,
                     "); the IR's projector has no handler for it"));
  }
}

void Checker::HandlerFields(const domain::Projector& projector) {
  for (const domain::Handler& h : projector.handlers) {
    const IrEvent* event = IrEventNamed(h.event);
    if (event == nullptr) continue;  // reported as EVENT_MISSING_IN_IR
    for (const std::string& field : FieldsRead(h)) {
      if (event->HasField(field)) continue;
      Add("HANDLER_FIELD_MISSING", absl::StrCat("projectors.", projector.name, ".on.", h.event),
          absl::StrCat("projector ", projector.name, ", handler of ", h.event, " (", h.where,
                       ") reads :", field, ", which ", event->type_string,
                       " does not have in the IR"));
    }
  }
}

nlohmann::ordered_json Diagnostic(const Drift& d, std::string_view level) {
  return {{"code", d.code}, {"level", level}, {"message", d.message}, {"element", d.element}};
}

}  // namespace

std::set<std::pair<std::string, std::string>> FindHandlerStubs(std::string_view toml_text) {
  std::set<std::pair<std::string, std::string>> stubs;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(toml_text.data(), toml_text.size()), '\n')) {
    std::string projector, event;
    if (ParseHandlerStub(std::string_view(line.data(), line.size()), &projector, &event))
      stubs.emplace(projector, event);
  }
  return stubs;
}

CheckResult CheckDrift(const Ir& ir, const Domain& domain,
                       const std::set<std::pair<std::string, std::string>>& stubs) {
  return Checker(ir, domain, stubs).Run();
}

nlohmann::ordered_json CheckEnvelope(const CheckResult& result, std::string_view ir_file,
                                     std::string_view domain_file) {
  nlohmann::ordered_json diagnostics = nlohmann::ordered_json::array();
  for (const Drift& d : result.drift) diagnostics.push_back(Diagnostic(d, "error"));
  for (const Drift& d : result.notes) diagnostics.push_back(Diagnostic(d, "info"));
  nlohmann::ordered_json data = {{"ir", ir_file},
                                 {"domain", domain_file},
                                 {"drift", result.drift.size()},
                                 {"notes", result.notes.size()}};
  return {{"version", "0.1.0"},
          {"status", result.drift.empty() ? "pass" : "fail"},
          {"data", data},
          {"diagnostics", diagnostics}};
}

nlohmann::ordered_json ErrorEnvelope(std::string_view code, std::string_view message) {
  nlohmann::ordered_json diagnostics = nlohmann::ordered_json::array();
  diagnostics.push_back({{"code", code}, {"level", "error"}, {"message", message}});
  return {{"version", "0.1.0"},
          {"status", "error"},
          {"data", nlohmann::ordered_json::object()},
          {"diagnostics", diagnostics}};
}

}  // namespace protean_admin::ir
