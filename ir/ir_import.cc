#include "ir/ir_import.h"

#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "domain/loader.h"
#include "domain/names.h"
#include "ir/column_types.h"

namespace protean_admin::ir {
namespace {

// A TOML basic string.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// A TOML key: bare when it can be.
std::string Key(std::string_view key) {
  bool bare = !key.empty();
  for (char c : key) bare &= absl::ascii_isalnum(c) || c == '_' || c == '-';
  return bare ? std::string(key) : Quote(key);
}

// "name = value" padded so that comments line up.
std::string Line(const std::string& text, const std::string& comment = "") {
  if (comment.empty()) return absl::StrCat(text, "\n");
  std::string padded(text);
  if (padded.size() < 40) padded.resize(40, ' ');
  return absl::StrCat(padded, " # ", comment, "\n");
}

// The projector's `subscription_type` line (docs/domain-toml.md "Subscription type"): the
// IR's explicit type, or "event_store" for Protean's "projection" profile; otherwise a
// comment, since the server's default cannot be seen from the IR.
std::string SubscriptionType(const IrProjector& projector) {
  std::string type = projector.subscription_type;
  if (type.empty() && projector.subscription_profile == "projection") type = "event_store";
  const std::string profile =
      projector.subscription_profile.empty() ? "default" : Quote(projector.subscription_profile);
  if (type.empty()) {
    return absl::StrCat("# Protean subscription: type of the server's default, profile ", profile,
                        "\n");
  }
  return Line(absl::StrCat("subscription_type = ", Quote(type)),
              absl::StrCat("Protean subscription profile ", profile));
}

// Class names must be unique: domain.toml is keyed by them.
template <typename T>
absl::Status CheckUnique(const std::vector<T>& items, const std::string& what) {
  std::map<std::string, std::string> seen;
  for (const T& item : items) {
    auto [it, inserted] = seen.emplace(item.name, item.fqn);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("two ", what, " are named ", item.name, " (", it->second, " and ", item.fqn,
                       "): domain.toml names them by class name; rename one"));
    }
  }
  return absl::OkStatus();
}

class Writer {
 public:
  explicit Writer(const Ir& ir) : ir_(ir) {}
  absl::StatusOr<ImportResult> Run();

 private:
  void Header();
  void Aggregates();
  void Events();
  void Projection(const IrProjection& projection);
  void Projector(const IrProjector& projector);
  void Handler(const IrProjector& projector, const IrProjection& projection,
               const std::string& type, const std::vector<std::string>& methods);
  std::string AggregateName(std::string_view fqn) const;
  void Warn(std::string text) { result_.warnings.push_back(std::move(text)); }

  const Ir& ir_;
  ImportResult result_;
  std::string& out_ = result_.toml;
  // Columns written per projection fqn (handlers only set those).
  std::map<std::string, std::set<std::string>> columns_;
  std::set<std::string> caches_;
};

std::string Writer::AggregateName(std::string_view fqn) const {
  const IrAggregate* aggregate = ir_.FindAggregate(fqn);
  return aggregate == nullptr ? "" : aggregate->name;
}

void Writer::Header() {
  absl::StrAppend(&out_, "# domain.toml written by `protean-admin ir import` from ", ir_.source,
                  "\n# (Protean IR ", ir_.ir_version.empty() ? "?" : ir_.ir_version,
                  ir_.checksum.empty() ? "" : absl::StrCat(", ", ir_.checksum),
                  ").\n# Lines marked \"review\" are guesses: read them. Format: "
                  "docs/domain-toml.md;\n# keeping it in step: protean-admin ir check "
                  "(docs/ir.md).\n\n");
  const std::string normalized = domain::NormalizedName(ir_.name);
  const std::string camel = domain::CamelCaseName(ir_.name);
  absl::StrAppend(&out_, "[domain]\n",
                  Line(absl::StrCat("name = ", Quote(ir_.name)),
                       absl::StrCat("normalized_name ", normalized, ", camel_case_name ", camel)));
  if (!ir_.normalized_name.empty() && ir_.normalized_name != normalized) {
    Warn(absl::StrCat("the IR's normalized_name \"", ir_.normalized_name,
                      "\" differs from the one protean-admin derives from \"", ir_.name, "\" (\"",
                      normalized, "\"): stream categories will differ"));
  }
  if (!ir_.camel_case_name.empty() && ir_.camel_case_name != camel) {
    Warn(absl::StrCat("the IR's camel_case_name \"", ir_.camel_case_name,
                      "\" differs from the one protean-admin derives (\"", camel,
                      "\"): type strings will differ"));
  }
  absl::StrAppend(&out_,
                  "\n[event_store]\nprovider = \"message_db\"\n"
                  "database_uri = \"${MESSAGE_DB_URL}\"\n\n"
                  "[databases.default]\nprovider = \"postgresql\"\n"
                  "database_uri = \"${DATABASE_URL}\"\n");
  std::set<std::string> others;
  for (const IrProjection& p : ir_.projections) {
    if (!p.cache.has_value() && p.provider != "default") others.insert(p.provider);
    if (p.cache.has_value()) caches_.insert(*p.cache);
  }
  for (const std::string& name : others) {
    absl::StrAppend(&out_, "\n[databases.", Key(name), "]\nprovider = \"postgresql\"\n",
                    "database_uri = \"${", absl::AsciiStrToUpper(name), "_DATABASE_URL}\"\n");
  }
  for (const std::string& name : caches_) {
    absl::StrAppend(&out_, "\n[caches.", Key(name), "]\nprovider = \"redis\"\n",
                    "URI = \"${REDIS_URL}\"\n");
  }
}

void Writer::Aggregates() {
  const std::string prefix = absl::StrCat(domain::NormalizedName(ir_.name), "::");
  for (const IrAggregate& aggregate : ir_.aggregates) {
    absl::string_view category = aggregate.stream_category;
    if (!absl::ConsumePrefix(&category, prefix)) {
      Warn(absl::StrCat("aggregate ", aggregate.fqn, ": stream category \"",
                        aggregate.stream_category, "\" does not start with \"", prefix,
                        "\"; protean-admin always prefixes it"));
      size_t colons = category.rfind("::");
      if (colons != absl::string_view::npos) category.remove_prefix(colons + 2);
    }
    absl::StrAppend(&out_, "\n",
                    Line(absl::StrCat("[aggregates.", aggregate.name, "]"), aggregate.fqn),
                    Line(absl::StrCat("stream_category = ", Quote(std::string(category))),
                         absl::StrCat(prefix, category)));
  }
}

void Writer::Events() {
  for (const IrEvent& event : ir_.events) {
    const std::string aggregate = AggregateName(event.aggregate_fqn);
    absl::StrAppend(&out_, "\n", Line(absl::StrCat("[events.", event.name, "]"), event.type_string),
                    "aggregate = ", Quote(aggregate), "\n", "version = ", event.version, "\n");
    const std::string expected =
        domain::TypeString(domain::CamelCaseName(ir_.name), event.name, event.version);
    if (event.type_string != expected) {
      Warn(absl::StrCat("event ", event.fqn, ": the IR's type string \"", event.type_string,
                        "\" is not \"", expected, "\", the one protean-admin derives"));
    }
  }
}

void Writer::Projection(const IrProjection& projection) {
  absl::StrAppend(&out_, "\n",
                  Line(absl::StrCat("[projections.", projection.name, "]"), projection.fqn),
                  "key = ", Quote(projection.identity_field), "\n");
  if (projection.cache.has_value()) {
    absl::StrAppend(&out_, "cache = ", Quote(*projection.cache), "\n");
  } else {
    absl::StrAppend(&out_, "table = ", Quote(projection.table), "\n");
    if (projection.provider != "default") {
      absl::StrAppend(&out_, "database = ", Quote(projection.provider), "\n");
    }
  }
  std::string columns;
  for (const IrField& field : projection.fields) {
    absl::StatusOr<std::string> type = ColumnTypeFor(field, ir_.identity_type);
    if (!type.ok()) {
      absl::StrAppend(&columns, "# ", Key(field.name), ": ", type.status().message(), "\n");
      Warn(absl::StrCat("projection ", projection.name, ", field ", field.name, ": ",
                        type.status().message()));
      continue;
    }
    columns_[projection.fqn].insert(field.name);
    absl::StrAppend(&columns, Key(field.name), " = ", Quote(*type), "\n");
  }
  absl::StrAppend(&out_, "\n",
                  Line(absl::StrCat("[projections.", projection.name, ".columns]"),
                       "as Protean's PostgreSQL provider creates them (docs/ir.md)"),
                  columns);
}

void Writer::Projector(const IrProjector& projector) {
  const IrProjection* projection = ir_.FindProjection(projector.projection_fqn);
  std::vector<std::string> categories;
  for (const std::string& c : projector.stream_categories) categories.push_back(Quote(c));
  absl::StrAppend(
      &out_, "\n", Line(absl::StrCat("[projectors.", projector.name, "]"), projector.fqn),
      "projector_for = ", Quote(projection->name), "\n", "stream_categories = [",
      absl::StrJoin(categories, ", "), "]\n", "subscriber = ", Quote(projector.fqn), "\n");
  absl::StrAppend(&out_, SubscriptionType(projector));
  for (const auto& [type, methods] : projector.handlers) {
    Handler(projector, *projection, type, methods);
  }
}

void Writer::Handler(const IrProjector& projector, const IrProjection& projection,
                     const std::string& type, const std::vector<std::string>& methods) {
  const std::string method_list = absl::StrJoin(methods, ", ");
  const IrEvent* event = ir_.FindEventByType(type);
  std::string reason;
  if (event == nullptr) {
    reason = "is not an event of this domain's aggregates in the IR";
  } else {
    const IrAggregate* aggregate = ir_.FindAggregate(event->aggregate_fqn);
    bool read = false;
    for (const std::string& c : projector.stream_categories)
      read |= c == aggregate->stream_category;
    if (!read)
      reason = absl::StrCat("belongs to stream category ", aggregate->stream_category,
                            ", which the projector does not read");
  }
  if (!reason.empty()) {
    absl::StrAppend(&out_, "# ", method_list, " handles ", type, ", which ", reason,
                    ": not imported\n");
    Warn(absl::StrCat("projector ", projector.name, ": ", method_list, " (", type, ") ", reason));
    return;
  }
  const std::string table = absl::StrCat("[projectors.", projector.name, ".on.", event->name, "]");
  if (!event->HasField(projection.identity_field)) {
    absl::StrAppend(&out_, "\n# ", table, "\n# stub for ", method_list, ": ", event->name,
                    " has no field \"", projection.identity_field,
                    "\" (the projection's key);\n# write this handler by hand (docs/domain-toml.md "
                    "\"Handlers\")\n");
    return;
  }
  std::vector<std::string> sets;
  const std::set<std::string>& columns = columns_[projection.fqn];
  for (const IrField& field : event->fields) {
    if (field.name == projection.identity_field || !columns.count(field.name)) continue;
    sets.push_back(absl::StrCat(Key(field.name), " = ", Quote(absl::StrCat(":", field.name))));
  }
  if (sets.empty()) {
    sets.push_back(absl::StrCat(Key(projection.identity_field), " = ",
                                Quote(absl::StrCat(":", projection.identity_field))));
  }
  absl::StrAppend(&out_, "\n",
                  Line(table, absl::StrCat("generated from ", method_list, ": review")), "set = { ",
                  absl::StrJoin(sets, ", "), " }\n");
}

absl::StatusOr<ImportResult> Writer::Run() {
  RETURN_IF_ERROR(CheckUnique(ir_.aggregates, "aggregates"));
  RETURN_IF_ERROR(CheckUnique(ir_.events, "events"));
  RETURN_IF_ERROR(CheckUnique(ir_.projections, "projections"));
  RETURN_IF_ERROR(CheckUnique(ir_.projectors, "projectors"));
  Header();
  Aggregates();
  Events();
  for (const IrProjection& projection : ir_.projections) {
    Projection(projection);
    for (const IrProjector& projector : ir_.projectors) {
      if (projector.projection_fqn == projection.fqn) Projector(projector);
    }
  }
  for (const IrProjector& projector : ir_.projectors) {
    if (ir_.FindProjection(projector.projection_fqn) == nullptr) {
      Warn(absl::StrCat("projector ", projector.fqn, " is for ", projector.projection_fqn,
                        ", which the IR does not declare: not imported"));
    }
  }
  // The text must load as it is: parse it with the daemon's loader.
  domain::LoadOptions options;
  options.getenv = [](std::string_view name) -> std::optional<std::string> {
    if (name.size() > 4 && name.substr(name.size() - 4) == "_URL") {
      return "postgresql://localhost/check";
    }
    return std::nullopt;
  };
  absl::StatusOr<domain::Domain> loaded =
      domain::ParseDomain(result_.toml, "<generated domain.toml>", "", options);
  if (!loaded.ok()) {
    return absl::InternalError(
        absl::StrCat("the domain.toml written from ", ir_.source,
                     " does not load (a bug; please report it): ", loaded.status().message()));
  }
  return std::move(result_);
}

}  // namespace

absl::StatusOr<ImportResult> ImportIr(const Ir& ir) { return Writer(ir).Run(); }

bool ParseHandlerStub(std::string_view text, std::string* projector, std::string* event) {
  absl::string_view line = absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  if (!absl::ConsumePrefix(&line, "#")) return false;
  line = absl::StripAsciiWhitespace(line);
  if (!absl::ConsumePrefix(&line, "[projectors.") || !absl::ConsumeSuffix(&line, "]")) {
    return false;
  }
  size_t on = line.find(".on.");
  if (on == absl::string_view::npos || on == 0) return false;
  *projector = std::string(line.substr(0, on));
  *event = std::string(line.substr(on + 4));
  return !event->empty() && event->find('.') == std::string::npos;
}

}  // namespace protean_admin::ir
