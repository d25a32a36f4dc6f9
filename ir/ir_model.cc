#include "ir/ir_model.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace protean_admin::ir {
namespace {

using Json = nlohmann::ordered_json;

// Reads typed members of one JSON object, naming "<source>: <path>.<key>" in errors.
class Reader {
 public:
  Reader(std::string_view source, std::string path) : source_(source), path_(std::move(path)) {}

  std::string Path(const std::string& key) const {
    return path_.empty() ? key : absl::StrCat(path_, ".", key);
  }
  absl::Status Error(const std::string& key, const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", Path(key), ": ", message));
  }
  absl::Status Expect(const Json& value, const std::string& key, const std::string& what) const {
    return Error(key, absl::StrCat("expected ", what, ", got ", value.dump()));
  }
  // The object member `key`; nullptr when absent (an error when required).
  absl::StatusOr<const Json*> Object(const Json& parent, const std::string& key,
                                     bool required = true) const {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      if (required) return Error(key, "is required");
      return nullptr;
    }
    if (!it->is_object()) return Expect(*it, key, "an object");
    return &*it;
  }
  absl::Status String(const Json& parent, const std::string& key, std::string* out,
                      bool required = true) const {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      return required ? Error(key, "is required") : absl::OkStatus();
    }
    if (!it->is_string()) return Expect(*it, key, "a string");
    *out = it->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status StringList(const Json& parent, const std::string& key,
                          std::vector<std::string>* out) const {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return absl::OkStatus();
    if (!it->is_array()) return Expect(*it, key, "an array of strings");
    for (const Json& item : *it) {
      if (!item.is_string()) return Expect(item, key, "an array of strings");
      out->push_back(item.get<std::string>());
    }
    return absl::OkStatus();
  }

 private:
  std::string source_;
  std::string path_;
};

absl::StatusOr<std::vector<IrField>> ReadFields(const Reader& r, const Json& element) {
  std::vector<IrField> fields;
  ASSIGN_OR_RETURN(const Json* map, r.Object(element, "fields", /*required=*/false));
  if (map == nullptr) return fields;
  for (const auto& [name, def] : map->items()) {
    if (!def.is_object()) return r.Expect(def, absl::StrCat("fields.", name), "an object");
    IrField field;
    field.name = name;
    const std::string key = absl::StrCat("fields.", name);
    auto str = [&](const char* member, std::string* out) -> absl::Status {
      auto it = def.find(member);
      if (it == def.end() || it->is_null()) return absl::OkStatus();
      if (!it->is_string()) return r.Expect(*it, absl::StrCat(key, ".", member), "a string");
      *out = it->get<std::string>();
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(str("kind", &field.kind));
    RETURN_IF_ERROR(str("type", &field.type));
    RETURN_IF_ERROR(str("content_type", &field.content_type));
    if (auto it = def.find("max_length"); it != def.end() && !it->is_null()) {
      if (!it->is_number_integer()) {
        return r.Expect(*it, absl::StrCat(key, ".max_length"), "an integer");
      }
      field.max_length = it->get<int64_t>();
    }
    field.identifier = def.value("identifier", false) == true;
    field.increment = def.value("increment", false) == true;
    fields.push_back(std::move(field));
  }
  return fields;
}

// __version__: an integer (v0.2.0) or "v<n>" (v0.1.0).
absl::StatusOr<int> ReadVersion(const Reader& r, const Json& event) {
  auto it = event.find("__version__");
  if (it == event.end() || it->is_null()) return 1;
  int version = 0;
  if (it->is_number_integer()) {
    version = it->get<int>();
  } else if (it->is_string()) {
    std::string text = it->get<std::string>();
    if (!text.empty() && (text[0] == 'v' || text[0] == 'V')) text.erase(0, 1);
    if (!absl::SimpleAtoi(text, &version)) version = 0;
  }
  if (version < 1) return r.Expect(*it, "__version__", "an integer >= 1 or \"v<n>\"");
  return version;
}

absl::Status ReadCluster(std::string_view source, const std::string& path, const Json& cluster,
                         Ir& ir) {
  Reader r(source, path);
  ASSIGN_OR_RETURN(const Json* aggregate, r.Object(cluster, "aggregate"));
  Reader ar(source, r.Path("aggregate"));
  IrAggregate agg;
  RETURN_IF_ERROR(ar.String(*aggregate, "fqn", &agg.fqn));
  RETURN_IF_ERROR(ar.String(*aggregate, "name", &agg.name));
  ASSIGN_OR_RETURN(const Json* options, ar.Object(*aggregate, "options"));
  RETURN_IF_ERROR(
      Reader(source, ar.Path("options")).String(*options, "stream_category", &agg.stream_category));
  ir.aggregates.push_back(agg);
  ASSIGN_OR_RETURN(const Json* events, r.Object(cluster, "events", /*required=*/false));
  if (events == nullptr) return absl::OkStatus();
  for (const auto& [fqn, def] : events->items()) {
    Reader er(source, absl::StrCat(r.Path("events"), ".", fqn));
    if (!def.is_object()) return r.Expect(def, absl::StrCat("events.", fqn), "an object");
    IrEvent event;
    event.fqn = fqn;
    RETURN_IF_ERROR(er.String(def, "name", &event.name));
    RETURN_IF_ERROR(er.String(def, "__type__", &event.type_string));
    event.aggregate_fqn = agg.fqn;
    RETURN_IF_ERROR(er.String(def, "part_of", &event.aggregate_fqn, /*required=*/false));
    ASSIGN_OR_RETURN(event.version, ReadVersion(er, def));
    ASSIGN_OR_RETURN(event.fields, ReadFields(er, def));
    ir.events.push_back(std::move(event));
  }
  return absl::OkStatus();
}

absl::Status ReadProjector(const Reader& r, const std::string& fqn, const Json& def, Ir& ir) {
  IrProjector projector;
  projector.fqn = fqn;
  RETURN_IF_ERROR(r.String(def, "name", &projector.name));
  RETURN_IF_ERROR(r.String(def, "projector_for", &projector.projection_fqn));
  RETURN_IF_ERROR(r.StringList(def, "aggregates", &projector.aggregates));
  RETURN_IF_ERROR(r.StringList(def, "stream_categories", &projector.stream_categories));
  ASSIGN_OR_RETURN(const Json* subscription, r.Object(def, "subscription", false));
  if (subscription != nullptr) {
    RETURN_IF_ERROR(r.String(*subscription, "type", &projector.subscription_type, false));
    RETURN_IF_ERROR(r.String(*subscription, "profile", &projector.subscription_profile, false));
  }
  ASSIGN_OR_RETURN(const Json* handlers, r.Object(def, "handlers", false));
  if (handlers != nullptr) {
    for (const auto& [type, methods] : handlers->items()) {
      std::vector<std::string> names;
      if (methods.is_array()) {
        for (const Json& m : methods) {
          if (m.is_string()) names.push_back(m.get<std::string>());
        }
      }
      if (names.empty()) {
        return r.Expect(methods, absl::StrCat("handlers.", type), "a non-empty list of names");
      }
      projector.handlers.emplace_back(type, std::move(names));
    }
  }
  ir.projectors.push_back(std::move(projector));
  return absl::OkStatus();
}

absl::Status ReadProjectionGroup(std::string_view source, const std::string& path,
                                 const Json& group, Ir& ir) {
  Reader r(source, path);
  ASSIGN_OR_RETURN(const Json* def, r.Object(group, "projection"));
  Reader pr(source, r.Path("projection"));
  IrProjection projection;
  RETURN_IF_ERROR(pr.String(*def, "fqn", &projection.fqn));
  RETURN_IF_ERROR(pr.String(*def, "name", &projection.name));
  RETURN_IF_ERROR(pr.String(*def, "identity_field", &projection.identity_field));
  ASSIGN_OR_RETURN(const Json* options, pr.Object(*def, "options"));
  Reader opr(source, pr.Path("options"));
  RETURN_IF_ERROR(opr.String(*options, "schema_name", &projection.table));
  RETURN_IF_ERROR(opr.String(*options, "provider", &projection.provider, false));
  std::string cache;
  RETURN_IF_ERROR(opr.String(*options, "cache", &cache, false));
  if (!cache.empty()) projection.cache = cache;
  ASSIGN_OR_RETURN(projection.fields, ReadFields(pr, *def));
  ir.projections.push_back(std::move(projection));
  ASSIGN_OR_RETURN(const Json* projectors, r.Object(group, "projectors", false));
  if (projectors == nullptr) return absl::OkStatus();
  for (const auto& [fqn, projector] : projectors->items()) {
    if (!projector.is_object()) {
      return r.Expect(projector, absl::StrCat("projectors.", fqn), "an object");
    }
    RETURN_IF_ERROR(ReadProjector(Reader(source, absl::StrCat(r.Path("projectors"), ".", fqn)), fqn,
                                  projector, ir));
  }
  return absl::OkStatus();
}

}  // namespace

bool IrEvent::HasField(std::string_view field) const {
  for (const IrField& f : fields) {
    if (f.name == field) return true;
  }
  return false;
}

const IrAggregate* Ir::FindAggregate(std::string_view fqn) const {
  for (const IrAggregate& a : aggregates) {
    if (a.fqn == fqn) return &a;
  }
  return nullptr;
}

const IrEvent* Ir::FindEventByType(std::string_view type_string) const {
  for (const IrEvent& e : events) {
    if (e.type_string == type_string) return &e;
  }
  return nullptr;
}

const IrProjection* Ir::FindProjection(std::string_view fqn) const {
  for (const IrProjection& p : projections) {
    if (p.fqn == fqn) return &p;
  }
  return nullptr;
}

absl::StatusOr<Ir> ParseIr(std::string_view json_text, std::string_view source_name) {
  Json root = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(source_name), ": not valid JSON (expected the output of `protean ir show`)"));
  }
  Ir ir;
  ir.source = std::string(source_name);
  Reader r(source_name, "");
  if (!root.is_object()) return r.Expect(root, "(top level)", "an object");
  RETURN_IF_ERROR(r.String(root, "ir_version", &ir.ir_version, false));
  RETURN_IF_ERROR(r.String(root, "checksum", &ir.checksum, false));
  ASSIGN_OR_RETURN(const Json* domain, r.Object(root, "domain"));
  Reader dr(source_name, "domain");
  RETURN_IF_ERROR(dr.String(*domain, "name", &ir.name));
  RETURN_IF_ERROR(dr.String(*domain, "normalized_name", &ir.normalized_name, false));
  RETURN_IF_ERROR(dr.String(*domain, "camel_case_name", &ir.camel_case_name, false));
  RETURN_IF_ERROR(dr.String(*domain, "identity_type", &ir.identity_type, false));
  ASSIGN_OR_RETURN(const Json* clusters, r.Object(root, "clusters"));
  for (const auto& [fqn, cluster] : clusters->items()) {
    if (!cluster.is_object()) return r.Expect(cluster, absl::StrCat("clusters.", fqn), "an object");
    RETURN_IF_ERROR(ReadCluster(source_name, absl::StrCat("clusters.", fqn), cluster, ir));
  }
  ASSIGN_OR_RETURN(const Json* projections, r.Object(root, "projections", false));
  if (projections != nullptr) {
    for (const auto& [fqn, group] : projections->items()) {
      if (!group.is_object()) {
        return r.Expect(group, absl::StrCat("projections.", fqn), "an object");
      }
      RETURN_IF_ERROR(
          ReadProjectionGroup(source_name, absl::StrCat("projections.", fqn), group, ir));
    }
  }
  return ir;
}

absl::StatusOr<Ir> ReadIrFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot be read (the IR: `protean ir show > ", path, "`)"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseIr(text.str(), path);
}

}  // namespace protean_admin::ir
