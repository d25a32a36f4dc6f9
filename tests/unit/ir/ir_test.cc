// Protean's IR: parsing (v0.1.0 and v0.2.0 versions), the column type mapping, `ir import`
// (its output loads with the daemon's loader and round-trips through the drift check) and
// every kind of drift `ir check` reports.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "domain/loader.h"
#include "ir/column_types.h"
#include "ir/ir_check.h"
#include "ir/ir_import.h"
#include "ir/ir_model.h"

namespace protean_admin::ir {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Json = nlohmann::ordered_json;

std::string DataFile(const std::string& name) {
  std::ifstream in(std::string(IR_TEST_DATA_DIR) + "/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Json DataJson(const std::string& name) { return Json::parse(DataFile(name)); }

Ir MustParse(const Json& json) {
  absl::StatusOr<Ir> ir = ParseIr(json.dump(), "ir.json");
  EXPECT_TRUE(ir.ok()) << ir.status();
  return ir.ok() ? *ir : Ir{};
}

domain::LoadOptions Options() {
  domain::LoadOptions options;
  options.getenv = [](std::string_view name) -> std::optional<std::string> {
    if (name == "MESSAGE_DB_URL" || name == "DATABASE_URL") return "postgresql://h/db";
    return std::nullopt;
  };
  return options;
}

std::string Import(const Json& json) {
  absl::StatusOr<ImportResult> result = ImportIr(MustParse(json));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? result->toml : "";
}

domain::Domain Load(const std::string& toml) {
  absl::StatusOr<domain::Domain> d = domain::ParseDomain(toml, "domain.toml", "", Options());
  EXPECT_TRUE(d.ok()) << d.status() << "\n" << toml;
  return d.ok() ? *d : domain::Domain{};
}

// The drift codes of checking `ir` against the domain.toml imported from `original`.
std::vector<std::string> DriftCodes(const Json& original, const Json& ir) {
  const std::string toml = Import(original);
  CheckResult result = CheckDrift(MustParse(ir), Load(toml), FindHandlerStubs(toml));
  std::vector<std::string> codes;
  for (const Drift& d : result.drift) codes.push_back(d.code);
  return codes;
}

// An IR field of `kind` and `type`.
IrField F(std::string kind, std::string type = "", std::optional<int64_t> max_length = {},
          std::string content_type = "", bool increment = false) {
  IrField f;
  f.kind = std::move(kind);
  f.type = std::move(type);
  f.max_length = max_length;
  f.content_type = std::move(content_type);
  f.increment = increment;
  return f;
}

TEST(ColumnTypesTest, FollowProteansPostgresqlProvider) {
  auto type = [](const IrField& f, std::string_view identity = "string") {
    absl::StatusOr<std::string> t = ColumnTypeFor(f, identity);
    return t.ok() ? *t : "error: " + std::string(t.status().message());
  };
  EXPECT_EQ(type(F("standard", "String", 50)), "varchar(50)");
  EXPECT_EQ(type(F("standard", "String")), "varchar(255)");
  EXPECT_EQ(type(F("text", "Text")), "text");
  EXPECT_EQ(type(F("standard", "Integer")), "integer");
  EXPECT_EQ(type(F("standard", "Float")), "double precision");
  EXPECT_EQ(type(F("standard", "Boolean")), "boolean");
  EXPECT_EQ(type(F("standard", "Date")), "date");
  EXPECT_EQ(type(F("standard", "DateTime")), "timestamp");
  EXPECT_EQ(type(F("identifier", "Identifier")), "varchar");
  EXPECT_EQ(type(F("identifier", "Identifier"), "integer"), "integer");
  EXPECT_EQ(type(F("auto", "Auto"), "uuid"), "uuid");
  EXPECT_EQ(type(F("auto", "Auto", {}, "", true), "uuid"), "integer");
  EXPECT_EQ(type(F("reference")), "varchar");
  EXPECT_EQ(type(F("dict", "Dict")), "json");
  EXPECT_EQ(type(F("list", "List")), "text[]");
  EXPECT_EQ(type(F("list", "List", {}, "Integer")), "integer[]");
  EXPECT_EQ(type(F("list", "List", {}, "dict")), "bytea[]");
  EXPECT_EQ(type(F("status", "Status", 12)), "varchar(12)");
  EXPECT_THAT(type(F("value_object")), HasSubstr("a value_object field is not one column"));
  EXPECT_EQ(CanonicalColumnType("character varying(20)"), CanonicalColumnType("VARCHAR(20)"));
  EXPECT_EQ(CanonicalColumnType("float8"), "double precision");
  EXPECT_EQ(CanonicalColumnType("timestamp without time zone"), "timestamp");
}

TEST(IrParseTest, ReadsProteansOrderingExample) {
  Ir ir = MustParse(DataJson("ordering-ir.json"));
  EXPECT_EQ(ir.name, "Ordering");
  EXPECT_EQ(ir.normalized_name, "ordering");
  ASSERT_EQ(ir.aggregates.size(), 2u);
  EXPECT_EQ(ir.aggregates[1].stream_category, "ordering::payment");
  ASSERT_EQ(ir.events.size(), 4u);
  EXPECT_EQ(ir.events[1].name, "OrderPlaced");
  EXPECT_EQ(ir.events[1].version, 1);  // "v1" in IR v0.1.0
  EXPECT_EQ(ir.events[1].aggregate_fqn, "ecommerce.ordering.Order");
  ASSERT_EQ(ir.projectors.size(), 1u);
  EXPECT_EQ(ir.projectors[0].subscription_type, "event_store");
  EXPECT_EQ(ir.projectors[0].handlers.size(), 3u);
  EXPECT_EQ(ir.projections[0].table, "order_dashboard");
}

TEST(IrParseTest, BadInputNamesFileAndPath) {
  EXPECT_THAT(std::string(ParseIr("{", "x.json").status().message()),
              HasSubstr("x.json: not valid JSON"));
  EXPECT_EQ(std::string(ParseIr("{\"clusters\": {}}", "x.json").status().message()),
            "x.json: domain: is required");
  Json ir = DataJson("test-bank-ir.json");
  ir["clusters"]["bank.users.User"]["events"]["bank.users.Registered"]["__version__"] = "two";
  EXPECT_EQ(std::string(ParseIr(ir.dump(), "x.json").status().message()),
            "x.json: clusters.bank.users.User.events.bank.users.Registered.__version__: expected "
            "an integer >= 1 or \"v<n>\", got \"two\"");
}

TEST(IrImportTest, OrderingLoadsAndRoundTrips) {
  const std::string toml = Import(DataJson("ordering-ir.json"));
  EXPECT_THAT(toml, HasSubstr("[domain]\nname = \"Ordering\""));
  EXPECT_THAT(toml, HasSubstr("database_uri = \"${MESSAGE_DB_URL}\""));
  EXPECT_THAT(toml, HasSubstr("database_uri = \"${DATABASE_URL}\""));
  EXPECT_THAT(toml, HasSubstr("stream_category = \"order\""));
  EXPECT_THAT(toml, HasSubstr("customer_name = \"varchar(100)\""));
  EXPECT_THAT(toml, HasSubstr("subscriber = \"ecommerce.reporting.OrderDashboardProjector\""));
  EXPECT_THAT(toml, HasSubstr("subscription_type = \"event_store\""));
  EXPECT_THAT(toml, HasSubstr("# generated from on_order_placed: review\nset = { customer_name "
                              "= \":customer_name\", total_amount = \":total_amount\" }"));
  domain::Domain d = Load(toml);
  ASSERT_EQ(d.projections.size(), 1u);
  EXPECT_EQ(d.projections[0].name, "OrderDashboard");
  EXPECT_EQ(d.projections[0].table, "order_dashboard");
  EXPECT_EQ(d.projections[0].key, "order_id");
  EXPECT_EQ(d.events.size(), 4u);
  EXPECT_EQ(d.FindEvent("PaymentFailed")->type_string, "Ordering.PaymentFailed.v1");
  ASSERT_EQ(d.projectors.size(), 1u);
  EXPECT_EQ(d.projectors[0].subscription_type, domain::SubscriptionType::kEventStore);
  EXPECT_THAT(d.projectors[0].categories, ElementsAre("ordering::order", "ordering::payment"));
  EXPECT_EQ(d.projectors[0].handlers.size(), 3u);
  CheckResult result = CheckDrift(MustParse(DataJson("ordering-ir.json")), d, {});
  EXPECT_THAT(result.drift, IsEmpty());
}

// Both of Protean's published examples load as imported and check without drift.
TEST(IrImportTest, ProteansExamplesRoundTrip) {
  for (const char* name : {"ordering-ir.json", "fidelis-ir.json"}) {
    SCOPED_TRACE(name);
    const Json json = DataJson(name);
    absl::StatusOr<ImportResult> result = ImportIr(MustParse(json));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_THAT(result->warnings, IsEmpty());
    const std::string& toml = result->toml;
    CheckResult check = CheckDrift(MustParse(json), Load(toml), FindHandlerStubs(toml));
    EXPECT_THAT(check.drift, IsEmpty());
    EXPECT_THAT(check.notes, IsEmpty());
  }
  domain::Domain fidelis = Load(Import(DataJson("fidelis-ir.json")));
  EXPECT_EQ(fidelis.FindAggregate("Account")->stream_category, "fidelis::account");
  EXPECT_EQ(fidelis.projections[0].table, "account_summary");
  ASSERT_EQ(fidelis.projectors[0].handlers.size(), 3u);
  const domain::Handler& opened = fidelis.projectors[0].handlers[0];
  EXPECT_EQ(opened.event, "AccountOpened");
  ASSERT_EQ(opened.set.size(), 2u);
  EXPECT_EQ(opened.set[0].first, "account_number");
  EXPECT_EQ(opened.set[1].first, "holder_name");
}

TEST(IrImportTest, HandlersWithoutTheKeyBecomeStubsThatCheckNotes) {
  Json ir = DataJson("test-bank-ir.json");
  const std::string toml = Import(ir);
  EXPECT_THAT(toml, HasSubstr("# [projectors.AccountsProjector.on.Closed]\n# stub for "
                              "on_closed: Closed has no field \"user_id\""));
  EXPECT_THAT(toml, HasSubstr("tags = \"varchar(255)[]\""));
  EXPECT_THAT(toml, HasSubstr("profile = \"json\""));
  domain::Domain d = Load(toml);
  EXPECT_EQ(d.projectors[0].handlers.size(), 2u);
  CheckResult result = CheckDrift(MustParse(ir), d, FindHandlerStubs(toml));
  EXPECT_THAT(result.drift, IsEmpty());
  ASSERT_EQ(result.notes.size(), 1u);
  EXPECT_EQ(result.notes[0].code, "HANDLER_STUB");
  EXPECT_EQ(CheckEnvelope(result, "ir.json", "domain.toml")["status"], "pass");
}

TEST(IrImportTest, DuplicateClassNamesAreRefused) {
  Json ir = DataJson("ordering-ir.json");
  ir["clusters"]["ecommerce.payments.Payment"]["aggregate"]["name"] = "Order";
  absl::StatusOr<ImportResult> result = ImportIr(MustParse(ir));
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("two aggregates are named Order (ecommerce.ordering.Order and "
                        "ecommerce.payments.Payment)"));
}

TEST(IrImportTest, DomainTomlWithoutDomainTableTakesTheNameGiven) {
  std::string toml = Import(DataJson("ordering-ir.json"));
  const size_t start = toml.find("[domain]");
  toml.erase(start, toml.find("[event_store]") - start);
  domain::LoadOptions options = Options();
  EXPECT_THAT(std::string(domain::ParseDomain(toml, "d.toml", "", options).status().message()),
              HasSubstr("the domain's name is unknown"));
  options.domain_name = "Ordering";
  auto d = domain::ParseDomain(toml, "d.toml", "", options);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(CheckDrift(MustParse(DataJson("ordering-ir.json")), *d, {}).drift, IsEmpty());
}

Json& Event(Json& ir, const char* cluster, const char* fqn) {
  return ir["clusters"][cluster]["events"][fqn];
}
Json& Projector(Json& ir) {
  return ir["projections"]["ecommerce.reporting.OrderDashboard"]["projectors"]
           ["ecommerce.reporting.OrderDashboardProjector"];
}

TEST(IrCheckTest, RemovedEventAndItsHandler) {
  const Json original = DataJson("ordering-ir.json");
  Json ir = original;
  ir["clusters"]["ecommerce.ordering.Order"]["events"].erase("ecommerce.ordering.OrderCancelled");
  Projector(ir)["handlers"].erase("Ordering.OrderCancelled.v1");
  EXPECT_THAT(DriftCodes(original, ir),
              UnorderedElementsAre("EVENT_MISSING_IN_IR", "HANDLER_MISSING_IN_IR"));
}

TEST(IrCheckTest, VersionBump) {
  const Json original = DataJson("ordering-ir.json");
  Json ir = original;
  Json& placed = Event(ir, "ecommerce.ordering.Order", "ecommerce.ordering.OrderPlaced");
  placed["__version__"] = 2;
  placed["__type__"] = "Ordering.OrderPlaced.v2";
  Projector(ir)["handlers"].erase("Ordering.OrderPlaced.v1");
  Projector(ir)["handlers"]["Ordering.OrderPlaced.v2"] = {"on_order_placed"};
  const std::string toml = Import(original);
  CheckResult result = CheckDrift(MustParse(ir), Load(toml), {});
  ASSERT_EQ(result.drift.size(), 1u);
  EXPECT_EQ(result.drift[0].code, "EVENT_VERSION");
  EXPECT_EQ(result.drift[0].message,
            "event OrderPlaced: version 2 in the IR (Ordering.OrderPlaced.v2), 1 in domain.toml "
            "(Ordering.OrderPlaced.v1)");
}

TEST(IrCheckTest, RemovedFieldAHandlerReads) {
  const Json original = DataJson("ordering-ir.json");
  Json ir = original;
  Event(ir, "ecommerce.ordering.Order", "ecommerce.ordering.OrderPlaced")["fields"].erase(
      "customer_name");
  const std::string toml = Import(original);
  CheckResult result = CheckDrift(MustParse(ir), Load(toml), {});
  ASSERT_EQ(result.drift.size(), 1u);
  EXPECT_EQ(result.drift[0].code, "HANDLER_FIELD_MISSING");
  EXPECT_THAT(result.drift[0].message,
              HasSubstr("reads :customer_name, which Ordering.OrderPlaced.v1 does not have"));
  EXPECT_THAT(result.drift[0].message, HasSubstr("(domain.toml:"));
}

TEST(IrCheckTest, MissingProjectionColumnsProjectorAndHandler) {
  const Json original = DataJson("ordering-ir.json");
  Json ir = original;
  Json& fields = ir["projections"]["ecommerce.reporting.OrderDashboard"]["projection"]["fields"];
  fields["shipped_on"] = {{"kind", "standard"}, {"type", "Date"}};
  fields["status"]["max_length"] = 30;
  fields.erase("payment_status");
  Projector(ir)["handlers"]["Ordering.PaymentFailed.v1"] = {"on_payment_failed"};
  Json group = ir["projections"]["ecommerce.reporting.OrderDashboard"];
  group["projection"]["name"] = "Shipments";
  group["projection"]["fqn"] = "ecommerce.reporting.Shipments";
  group["projectors"].clear();
  ir["projections"]["ecommerce.reporting.Shipments"] = group;
  EXPECT_THAT(
      DriftCodes(original, ir),
      UnorderedElementsAre("PROJECTION_MISSING_IN_TOML", "COLUMN_MISSING_IN_TOML", "COLUMN_TYPE",
                           "COLUMN_MISSING_IN_IR", "HANDLER_MISSING_IN_TOML"));
  Json no_projector = original;
  no_projector["projections"]["ecommerce.reporting.OrderDashboard"]["projectors"].clear();
  EXPECT_THAT(DriftCodes(original, no_projector), ElementsAre("PROJECTOR_MISSING_IN_IR"));
  EXPECT_THAT(DriftCodes(no_projector, original), ElementsAre("PROJECTOR_MISSING_IN_TOML"));
}

TEST(IrCheckTest, CategoryChange) {
  const Json original = DataJson("ordering-ir.json");
  Json ir = original;
  ir["clusters"]["ecommerce.payments.Payment"]["aggregate"]["options"]["stream_category"] =
      "ordering::payments";
  Projector(ir)["stream_categories"][1] = "ordering::payments";
  std::vector<std::string> codes = DriftCodes(original, ir);
  EXPECT_THAT(codes, UnorderedElementsAre("AGGREGATE_CATEGORY", "PROJECTOR_CATEGORIES"));
}

TEST(IrCheckTest, EnvelopeListsDriftAsDiagnostics) {
  CheckResult result;
  result.drift.push_back({"EVENT_VERSION", "events.E", "event E: version 2 in the IR, 1 in ..."});
  Json envelope = CheckEnvelope(result, "ir.json", "domain.toml");
  EXPECT_EQ(envelope["version"], "0.1.0");
  EXPECT_EQ(envelope["status"], "fail");
  EXPECT_EQ(envelope["data"]["drift"], 1);
  EXPECT_EQ(envelope["diagnostics"][0]["code"], "EVENT_VERSION");
  EXPECT_EQ(envelope["diagnostics"][0]["level"], "error");
  EXPECT_EQ(envelope["diagnostics"][0]["element"], "events.E");
  Json error = ErrorEnvelope("IR_UNREADABLE", "x.json: cannot be read");
  EXPECT_EQ(error["status"], "error");
  EXPECT_EQ(error["diagnostics"][0]["message"], "x.json: cannot be read");
}

TEST(IrCheckTest, StubLines) {
  std::string projector, event;
  EXPECT_TRUE(ParseHandlerStub("# [projectors.P.on.Closed]", &projector, &event));
  EXPECT_EQ(projector, "P");
  EXPECT_EQ(event, "Closed");
  EXPECT_FALSE(ParseHandlerStub("[projectors.P.on.Closed]", &projector, &event));
  EXPECT_FALSE(ParseHandlerStub("# [projectors.P]", &projector, &event));
}

}  // namespace
}  // namespace protean_admin::ir
