// protean-admind and protean-admin end to end: the real daemon on a free port, the real CLI,
// a scratch PostgreSQL database per test (tests/harness). Every row of the output and error
// table of docs/protean-compatibility.md §6, the event-server guard, cancel with rollback, a
// dropped client, concurrent rebuilds, SIGTERM during a rebuild, reflection and health, and
// the action form's basics (update, negated increments, NULL, list and jsonb columns).

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health_v1.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "reflection_v1alpha.grpc.pb.h"
#include "storage/pg_connection.h"
#include "tests/e2e/e2e_support.h"
#include "tests/harness/test_services.h"

#ifndef PROTEAN_ADMIND_BINARY
#error "PROTEAN_ADMIND_BINARY must be defined by the build"
#endif

namespace protean_admin::e2e {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The test domain (e2e_support.h) with ProfileUpdated (no handler) and the UserDirectory
// projection (its projector is kUserDirectoryProjector); `extra` is appended.
std::string DomainToml(const std::string& uri, int health_port, const std::string& extra = "") {
  return TestDomainToml({.uri = uri,
                         .health_port = health_port,
                         .extra = absl::StrCat("\n[events.ProfileUpdated]\naggregate = \"User\"\n",
                                               kUserDirectoryProjection, extra)});
}

class DaemonCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = testing::LoadTestServices();
    ASSERT_TRUE(services.ok()) << services.status();
    auto uri = testing::CreateScratchDatabase(*services, "e2e");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    auto conn = storage::PgConnection::Connect(uri_);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_.emplace(std::move(*conn));
    health_port_ = FreePort();  // nobody listens: the event server is stopped
    root_.Write("domain.toml", DomainToml(uri_, health_port_, kUserDirectoryProjector));
    StartDaemon();
  }

  void StartDaemon(const std::vector<std::string>& extra_args = {}) {
    ASSERT_TRUE(daemon_.Start(extra_args))
        << "daemon did not come up: " << DaemonProcess().Stderr();
  }
  Process& DaemonProcess() { return daemon_.process(); }
  CliRun Cli(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
    return daemon_.Cli(args, std::move(env));
  }
  std::unique_ptr<Process> SpawnCli(const std::vector<std::string>& args) {
    return daemon_.SpawnCli(args);
  }

  void Write(const std::string& stream, const std::string& type, const std::string& data) {
    auto written = testing::WriteMessage(*conn_, stream, type, data);
    ASSERT_TRUE(written.ok()) << written.status();
  }

  void WriteBigHistory(int users, int transactions) {
    absl::Status written = WriteTestHistory(*conn_, users, transactions);
    ASSERT_TRUE(written.ok()) << written;
  }

  std::string Query(const std::string& sql) {
    auto r = conn_->Exec(sql);
    if (!r.ok() || r->rows() != 1) return "<error: " + std::string(r.status().message()) + ">";
    return std::string(r->Get(0, 0));
  }

  std::string BalancesFingerprint() {
    return Query("SELECT count(*) || '/' || coalesce(sum(balance), 0) FROM balances");
  }

  // Waits until the daemon lists a running job; returns its id.
  std::string WaitForRunningJob() {
    for (int i = 0; i < 400; ++i) {
      CliRun jobs = Cli({"jobs", "--running", "--json"});
      if (jobs.exit_code == 0 && !jobs.out.empty()) {
        auto j = nlohmann::json::parse(Lines(jobs.out).front());
        return j["job_id"];
      }
      std::this_thread::sleep_for(25ms);
    }
    return "";
  }

  bool WaitForReplay(const std::string& job_id) { return daemon_.WaitForReplay(job_id); }

  TempDir root_;
  TempDir logs_;
  std::string uri_;
  std::optional<storage::PgConnection> conn_;
  int health_port_ = 0;
  e2e::Daemon daemon_{root_.path(), logs_.path()};
};

// ---- The output table (docs/protean-compatibility.md §6) ----

TEST_F(DaemonCliTest, SingleProjection) {
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  Write("test::transaction-9", "Test.Transacted.v1", R"({"user_id": "1", "amount": 100.0})");
  Write("test::transaction-9", "Test.Transacted.v1", R"({"user_id": "1", "amount": 5.5})");
  Write("test::user-1", "Test.ProfileUpdated.v1", R"({"user_id": "1", "new_name": "J"})");
  CliRun run = Cli({"rebuild", "--domain=.", "--projection=Balances"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out,
            "Rebuilt projection 'Balances': 4 events processed through 1 projector(s) across 2 "
            "category/categories.\n");
  EXPECT_EQ(Query("SELECT balance FROM balances WHERE user_id = '1'"), "105.5");
  // Progress went to stderr, not stdout (plain lines: stderr is not a terminal).
  EXPECT_THAT(run.err, HasSubstr("started"));
  // The daemon logged who asked, what, the outcome, counts and duration.
  std::string log = DaemonProcess().Stderr();
  EXPECT_THAT(log, HasSubstr("rebuild started"));
  EXPECT_THAT(log, HasSubstr("rebuild finished"));
  EXPECT_THAT(log, HasSubstr("peer=ipv4:127.0.0.1:"));
  EXPECT_THAT(log, HasSubstr("requested_by="));
  EXPECT_THAT(log, HasSubstr("projection=Balances"));
  EXPECT_THAT(log, HasSubstr("outcome=succeeded"));
  EXPECT_THAT(log, HasSubstr("events_dispatched=4"));
  EXPECT_THAT(log, HasSubstr("duration_ms="));
}

TEST_F(DaemonCliTest, JsonLogs) {
  ASSERT_EQ(daemon_.Stop(), 0);
  StartDaemon({"--log-format", "json"});
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  ASSERT_EQ(Cli({"rebuild", "--projection=Balances"}).exit_code, 0);
  ASSERT_EQ(daemon_.Stop(), 0);
  bool saw_finished = false;
  for (const std::string& line : Lines(DaemonProcess().Stderr())) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    if (j["msg"] == "rebuild finished") {
      saw_finished = true;
      EXPECT_EQ(j["outcome"], "succeeded");
      EXPECT_EQ(j["events_dispatched"], 1);
      EXPECT_EQ(j["projection"], "Balances");
    }
  }
  EXPECT_TRUE(saw_finished) << DaemonProcess().Stderr();
}

TEST_F(DaemonCliTest, PgApplicationProbe) {
  ASSERT_EQ(daemon_.Stop(), 0);
  StartDaemon({"--pg-application-probe", "protean-server"});
  ASSERT_EQ(Cli({"rebuild", "--projection=Balances"}).exit_code, 0);  // nobody connected
  auto server = storage::PgConnection::Connect(uri_ + "?application_name=protean-server");
  ASSERT_TRUE(server.ok()) << server.status();
  CliRun refused = Cli({"rebuild", "--projection=Balances"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.out,
            "Error: Refusing to rebuild: the Protean event server appears to be running (1 "
            "connection(s) to the event store with pg_stat_activity application_name "
            "'protean-server'). Stop it or pass --force.\n");
}

TEST_F(DaemonCliTest, SingleProjectionWithSkippedEvents) {
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  Write("test::user-1", "Test.Unknown.v1", R"({"user_id": "1"})");
  Write("test::user-1", "Test.Registered.v7", R"({"user_id": "1"})");
  CliRun run = Cli({"rebuild", "--projection=Balances", "--strategy=inplace", "--batch-size=1"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out,
            "Rebuilt projection 'Balances': 1 events processed through 1 projector(s) across 2 "
            "category/categories.\n  (2 events skipped)\n");
}

// Orders kept by a projector whose create handler is in the SQL form and whose delete handler
// is in the action form (issue 13): every delete of a row the SQL statements wrote is kept.
const char kOpenOrdersDomain[] = R"toml(
[aggregates.Order]
[events.OrderCreated]
aggregate = "Order"
[events.OrderConfirmed]
aggregate = "Order"

[projections.OpenOrders]
key = "order_id"
columns = { order_id = "varchar(64)", customer = "text", total = "numeric(10,2)", status = "text" }

[projectors.OpenOrdersProjector]
projector_for = "OpenOrders"
aggregates = ["Order"]

[projectors.OpenOrdersProjector.on.OrderCreated]
sql = "INSERT INTO open_orders (order_id, customer, total) VALUES (:order_id, :customer, :total) ON CONFLICT (order_id) DO UPDATE SET customer = EXCLUDED.customer, total = EXCLUDED.total"

[projectors.OpenOrdersProjector.on.OrderConfirmed]
key = ":order_id"
delete = true
)toml";

TEST_F(DaemonCliTest, SqlFormCreatesAndActionFormDeletesAsAppliedOneByOne) {
  root_.Write("orders/domain.toml", DomainToml(uri_, health_port_, kOpenOrdersDomain));
  // The table exists with a column default (domain.toml's `columns` declare types only).
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE open_orders (order_id varchar(64) PRIMARY KEY, customer "
                         "text, total numeric(10,2), status text DEFAULT 'open')")
                  .ok());
  auto created = [&](const std::string& id, const std::string& customer, const std::string& total) {
    Write("test::order-" + id, "Test.OrderCreated.v1",
          absl::StrCat(R"({"order_id": ")", id, R"(", "customer": ")", customer, R"(", "total": )",
                       total, "}"));
  };
  auto confirmed = [&](const std::string& id) {
    Write("test::order-" + id, "Test.OrderConfirmed.v1", R"({"order_id": ")" + id + R"("})");
  };
  // Created and deleted one after another; created first and deleted afterwards; created and
  // left; created, deleted and created again.
  created("o1", "Ann", "10.5");
  confirmed("o1");
  created("o2", "Bob", "20");
  confirmed("o2");
  for (const char* id : {"o3", "o4", "o5"}) created(id, "Cy", "30.25");
  for (const char* id : {"o3", "o4", "o5"}) confirmed(id);
  created("o6", "Dee", "60.125");
  created("o7", "Eve", "70");
  confirmed("o7");
  created("o7", "Eve", "75.5");
  // Applied one by one, the events leave o6 and the second o7 (totals rounded to 2 places,
  // status from the column's default).
  const std::string expected = "o6|Dee|60.13|open,o7|Eve|75.50|open";
  for (const char* strategy : {"atomic", "inplace"}) {
    for (const char* batch : {"1", "500"}) {
      CliRun run =
          Cli({"rebuild", "--domain=orders", "--projection=OpenOrders",
               absl::StrCat("--strategy=", strategy), absl::StrCat("--batch-size=", batch)});
      EXPECT_EQ(run.exit_code, 0) << strategy << " " << batch << "\n" << run.out << run.err;
      EXPECT_EQ(run.out,
                "Rebuilt projection 'OpenOrders': 14 events processed through 1 projector(s) "
                "across 1 category/categories.\n")
          << strategy << " " << batch;
      EXPECT_EQ(Query("SELECT string_agg(concat_ws('|', order_id, customer, total, status), ',' "
                      "ORDER BY order_id) FROM open_orders"),
                expected)
          << strategy << " " << batch;
    }
  }
}

// Stock kept by the action form's basics (issue 16): `update` only where the row exists, a
// negated increment, an explicit NULL, Protean List fields as varchar[] and json[] columns
// and a jsonb column; one handler in the SQL form appends to the list the action form wrote.
const char kInventoryDomain[] = R"toml(
[aggregates.Product]
[events.ProductAdded]
aggregate = "Product"
[events.StockReserved]
aggregate = "Product"
[events.ProductRenamed]
aggregate = "Product"
[events.ProductTagged]
aggregate = "Product"

[projections.Inventory]
key = "product_id"
columns = { product_id = "varchar(64)", name = "text", on_hand = "integer", reserved = "numeric(10,2)", note = "text", tags = "varchar(20)[]", history = "json[]", attributes = "jsonb" }

[projectors.InventoryProjector]
projector_for = "Inventory"
aggregates = ["Product"]

[projectors.InventoryProjector.on.ProductAdded]
set = { name = ":name", on_hand = ":on_hand", reserved = 0, note = "new", tags = ":tags", history = ":history", attributes = ":attributes" }

[projectors.InventoryProjector.on.StockReserved]
increment = { on_hand = "-:quantity", reserved = ":quantity" }

[projectors.InventoryProjector.on.ProductRenamed]
update = { name = ":name", note = { null = true }, tags = ":tags" }

[projectors.InventoryProjector.on.ProductTagged]
sql = "UPDATE inventory SET tags = tags || :tag WHERE product_id = :product_id"
)toml";

class ActionBasicsCliTest : public DaemonCliTest {
 protected:
  void SetUp() override {
    DaemonCliTest::SetUp();
    root_.Write("inventory/domain.toml", DomainToml(uri_, health_port_, kInventoryDomain));
  }
  // Writes `type` for product `id` (its product_id added to `data`); its global position.
  int64_t Emit(const std::string& type, const std::string& id, nlohmann::json data) {
    data["product_id"] = id;
    auto written =
        testing::WriteMessage(*conn_, "test::product-" + id, "Test." + type + ".v1", data.dump());
    EXPECT_TRUE(written.ok()) << written.status();
    return written.ok() ? *written : -1;
  }
  CliRun Rebuild(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"rebuild", "--domain=inventory", "--projection=Inventory"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(args);
  }
  // Every row, every column as PostgreSQL prints it (NULL as "NULL").
  std::string Rows() {
    return Query(
        "SELECT string_agg(concat_ws('|', product_id, coalesce(name, 'NULL'), on_hand, reserved, "
        "coalesce(note, 'NULL'), coalesce(tags::text, 'NULL'), coalesce(history::text, 'NULL'), "
        "coalesce(attributes::text, 'NULL')), E'\\n' ORDER BY product_id) FROM inventory");
  }
};

TEST_F(ActionBasicsCliTest, UpdateNegatedIncrementNullAndListColumnsAsAppliedOneByOne) {
  Emit("ProductAdded", "p1",
       {{"name", "Widget"},
        {"on_hand", 10},
        {"tags", {"a", "b c"}},
        {"history", {{{"at", 1}, {"what", "added \"new\""}}}},
        {"attributes", {{"color", "red"}, {"dims", {1, 2}}}}});
  Emit("StockReserved", "p1", {{"quantity", 3}});
  Emit("ProductRenamed", "p2", {{"name", "Ghost"}, {"tags", {"g"}}});  // no row: nothing
  Emit("StockReserved", "p2", {{"quantity", 1}});                      // no row: nothing
  Emit("ProductRenamed", "p1", {{"name", "Widget \"Pro\""}, {"tags", {"x", nullptr, "y"}}});
  Emit("ProductTagged", "p1", {{"tag", "z"}});
  Emit("StockReserved", "p1", {{"quantity", "2"}});  // a decimal string, negated exactly
  Emit("ProductAdded", "p3",
       {{"name", "Solo"}, {"on_hand", 5}, {"tags", "only"}, {"history", nlohmann::json::array()}});
  Emit("StockReserved", "p3", {{"quantity", -4}});  // a negative reservation gives stock back
  // Every column exact; a json[] item keeps the JSON text the event store gives it.
  const std::string expected =
      "p1|Widget \"Pro\"|5|5.00|NULL|{x,NULL,y,z}|{\"{\\\"at\\\": 1, \\\"what\\\": \\\"added "
      "\\\\\\\"new\\\\\\\"\\\"}\"}|{\"dims\": [1, 2], \"color\": \"red\"}\n"
      "p3|Solo|9|-4.00|new|{only}|{}|NULL";
  for (const char* strategy : {"atomic", "inplace"}) {
    for (const char* batch : {"1", "500"}) {
      CliRun run = Rebuild({absl::StrCat("--strategy=", strategy),
                            absl::StrCat("--batch-size=", batch), "--strict"});
      EXPECT_EQ(run.exit_code, 0) << strategy << " " << batch << "\n" << run.out << run.err;
      EXPECT_EQ(run.out,
                "Rebuilt projection 'Inventory': 9 events processed through 1 projector(s) "
                "across 1 category/categories.\n")
          << strategy << " " << batch;
      EXPECT_EQ(Rows(), expected) << strategy << " " << batch;
    }
  }
  // The list items as the application reads them back.
  EXPECT_EQ(Query("SELECT history[1]->>'what' || '/' || tags[4] || '/' || (attributes->'dims'->>1) "
                  "FROM inventory WHERE product_id = 'p1'"),
            "added \"new\"/z/2");
}

// Payloads that do not fit their handler skip their own event, named with its global
// position and the field or column and the reason; every other event is applied, and with
// --strict nothing of the rebuild is kept.
TEST_F(ActionBasicsCliTest, PayloadsThatDoNotFitSkipTheirEventAndNothingElse) {
  Emit("ProductAdded", "p1", {{"name", "Widget"}, {"on_hand", 10}, {"tags", {"a"}}});
  ASSERT_EQ(Rebuild().exit_code, 0);
  const std::string before = Rows();
  ASSERT_EQ(before, "p1|Widget|10|0.00|new|{a}|NULL|NULL");
  const int64_t not_a_number = Emit("StockReserved", "p1", {{"quantity", "many"}});
  Emit("StockReserved", "p1", {{"quantity", 4}});
  const int64_t ragged =
      Emit("ProductRenamed", "p1", {{"name", "W2"}, {"tags", {{"x"}, {"y", "z"}}}});
  const int64_t too_long =
      Emit("ProductAdded", "p2",
           {{"name", "Long"}, {"on_hand", 1}, {"tags", {"this tag is longer than 20"}}});
  Emit("ProductRenamed", "p1", {{"name", "W3"}, {"tags", nlohmann::json::array()}});

  CliRun strict = Rebuild({"--strict"});
  EXPECT_EQ(strict.exit_code, 1) << strict.out << strict.err;
  EXPECT_THAT(strict.out, HasSubstr("events skipped, more than the 0 allowed "
                                    "(--max-skipped); rolled back: the projection is as it was"));
  EXPECT_EQ(Rows(), before);

  CliRun lenient = Rebuild();
  EXPECT_EQ(lenient.exit_code, 0) << lenient.out << lenient.err;
  EXPECT_THAT(lenient.out, HasSubstr(": 3 events processed"));
  EXPECT_THAT(lenient.out, HasSubstr("  (3 events skipped)\n"));
  EXPECT_THAT(lenient.err,
              HasSubstr(absl::StrCat("  1 x InventoryProjector, Test.StockReserved.v1: cannot "
                                     "negate -:quantity: \"many\" is not a number (first at "
                                     "global position ",
                                     not_a_number, ")")));
  EXPECT_THAT(lenient.err,
              HasSubstr(absl::StrCat("  1 x InventoryProjector, Test.ProductRenamed.v1: invalid "
                                     "array: multidimensional arrays must have sub-arrays of "
                                     "matching lengths (column tags) (first at global position ",
                                     ragged, ")")));
  EXPECT_THAT(lenient.err, HasSubstr(absl::StrCat("(first at global position ", too_long, ")")));
  EXPECT_THAT(lenient.err, HasSubstr("Test.ProductAdded.v1: value too long for type character "
                                     "varying(20)"));
  // The events that fit, and only they: 10 - 4, renamed W3 with an emptied list, no p2.
  EXPECT_EQ(Rows(), "p1|W3|6|4.00|NULL|{}|NULL|NULL");
}

TEST_F(DaemonCliTest, AllProjections) {
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  Write("test::transaction-9", "Test.Transacted.v1", R"({"user_id": "1", "amount": 50.0})");
  CliRun run = Cli({"rebuild"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out,
            "  Balances: 2 events processed\n"
            "  UserDirectory: 1 events processed\n"
            "Rebuilt 2 projection(s), 3 total events processed.\n");
  EXPECT_EQ(Query("SELECT email FROM user_directory WHERE user_id = '1'"), "john@x");
}

TEST_F(DaemonCliTest, AllProjectionsWithOneFailingExitsOne) {
  root_.Write("broken/domain.toml",
              DomainToml(uri_, health_port_, "\n[projections.Broken]\nkey = \"id\"\n"));
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  CliRun run = Cli({"rebuild", "--domain=broken"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_EQ(run.out,
            "  Balances: 1 events processed\n"
            "  UserDirectory: ERROR - No projectors found for projection `UserDirectory`\n"
            "  Broken: ERROR - No projectors found for projection `Broken`\n"
            "Rebuilt 3 projection(s), 1 total events processed.\n");
}

// A projection declared first whose table cannot be created (an unknown column type) fails
// alone: every later projection is still rebuilt.
TEST_F(DaemonCliTest, AllProjectionsWithABrokenFirstProjectionRebuildTheRest) {
  std::string toml = absl::StrReplaceAll(
      DomainToml(uri_, health_port_, kUserDirectoryProjector),
      {{"[projections.Balances]",
        "[projections.Broken]\nkey = \"id\"\ncolumns = { id = \"text\", x = \"no_such_type\" }\n"
        "[projectors.BrokenProjector]\nprojector_for = \"Broken\"\naggregates = [\"User\"]\n"
        "[projectors.BrokenProjector.on.Registered]\nkey = \":user_id\"\nset = { x = \":name\" "
        "}\n\n[projections.Balances]"}});
  root_.Write("broken/domain.toml", toml);
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  CliRun run = Cli({"rebuild", "--domain=broken"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 4u) << run.out;
  EXPECT_THAT(lines[0], StartsWith("  Broken: ERROR - Projection 'Broken': cannot create table "
                                   "broken: type \"no_such_type\" does not exist"));
  EXPECT_EQ(lines[1], "  Balances: 1 events processed");
  EXPECT_EQ(lines[2], "  UserDirectory: 1 events processed");
  EXPECT_EQ(lines[3], "Rebuilt 3 projection(s), 2 total events processed.");
  EXPECT_EQ(Query("SELECT name FROM balances WHERE user_id = '1'"), "John");
}

// A SQL statement that cannot be prepared fails the rebuild while planning, naming its place;
// nothing is truncated.
TEST_F(DaemonCliTest, AnUnpreparableStatementFailsBeforeAnythingIsTruncated) {
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE user_directory (user_id varchar(255) PRIMARY KEY, "
                         "email varchar(255), name varchar(255)); INSERT INTO user_directory "
                         "VALUES ('old', 'old@x', 'Old')")
                  .ok());
  std::string toml = DomainToml(uri_, health_port_,
                                "\n[projectors.DirectoryProjector]\nprojector_for = "
                                "\"UserDirectory\"\naggregates = [\"User\"]\n\n"
                                "[projectors.DirectoryProjector.on.Registered]\n"
                                "sql = \"INSERT INTO user_directory (user_id, emial) VALUES "
                                "(:user_id, :email)\"\n");
  root_.Write("unprepared/domain.toml", toml);
  size_t line = 1 + std::count(toml.begin(), toml.begin() + toml.find("sql = \"INSERT"), '\n');
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  for (const char* strategy : {"--strategy=atomic", "--strategy=inplace"}) {
    CliRun run = Cli({"rebuild", "--domain=unprepared", "--projection=UserDirectory", strategy});
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    EXPECT_EQ(run.out, absl::StrCat("Error: unprepared/domain.toml:", line,
                                    ": projector DirectoryProjector, event Registered: column "
                                    "\"emial\" of relation \"user_directory\" does not exist\n"));
    EXPECT_EQ(Query("SELECT string_agg(user_id, ',') FROM user_directory"), "old");
  }
}

// --strict refuses any skipped event: the rebuild fails, the old rows stay, and stderr says
// why events were skipped.
TEST_F(DaemonCliTest, StrictFailsOnASkippedEventAndExplainsIt) {
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  ASSERT_EQ(Cli({"rebuild", "--projection=Balances"}).exit_code, 0);
  Write("test::transaction-1", "Test.Transacted.v1", R"({"user_id": "1", "amount": "lots"})");
  CliRun lenient = Cli({"rebuild", "--projection=Balances", "--max-skipped=1"});
  EXPECT_EQ(lenient.exit_code, 0) << lenient.out << lenient.err;
  EXPECT_THAT(lenient.out, HasSubstr("  (1 events skipped)\n"));
  EXPECT_THAT(lenient.err, HasSubstr("Skipped events of Balances:\n  1 x TransactionProjector, "
                                     "Test.Transacted.v1: invalid input syntax for type double "
                                     "precision"));
  Write("test::transaction-1", "Test.Transacted.v1", R"({"user_id": "1", "amount": 5})");
  CliRun strict = Cli({"rebuild", "--projection=Balances", "--strict"});
  EXPECT_EQ(strict.exit_code, 1) << strict.out << strict.err;
  EXPECT_THAT(strict.out, HasSubstr("Error: 1 events skipped, more than the 0 allowed "
                                    "(--max-skipped); rolled back: the projection is as it was"));
  EXPECT_THAT(strict.err, HasSubstr("Skipped events of Balances:"));
  EXPECT_EQ(BalancesFingerprint(), "1/0");  // the 5.0 was not committed
  CliRun json = Cli({"rebuild", "--projection=Balances", "--strict", "--json"});
  EXPECT_EQ(json.exit_code, 1);
  nlohmann::json result = nlohmann::json::parse(Lines(json.out).back())["result"];
  EXPECT_EQ(result["skip_reasons"][0]["count"], 1);
  EXPECT_EQ(result["success"], false);
  EXPECT_EQ(Cli({"rebuild", "--strict", "--max-skipped=3"}).exit_code, 2);
}

TEST_F(DaemonCliTest, NoProjections) {
  root_.Write(
      "empty/domain.toml",
      absl::StrCat("[domain]\nname = \"Empty\"\n[event_store]\nprovider = \"message_db\"\n"
                   "database_uri = \"",
                   uri_, "\"\n[server.health]\nhost = \"127.0.0.1\"\nport = ", health_port_, "\n"));
  CliRun run = Cli({"rebuild", "--domain=empty"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out, "No projections found in domain.\n");
}

TEST_F(DaemonCliTest, ProjectionNotFound) {
  CliRun run = Cli({"rebuild", "--projection=NonExistent"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "Error: Projection 'NonExistent' not found in domain.\n");
}

TEST_F(DaemonCliTest, NoProjectors) {
  root_.Write("noprojectors/domain.toml", DomainToml(uri_, health_port_));
  CliRun run = Cli({"rebuild", "--domain=noprojectors", "--projection=UserDirectory"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.out, "Error: No projectors found for projection `UserDirectory`\n");
}

TEST_F(DaemonCliTest, DomainLoadErrors) {
  root_.Write("bad/domain.toml", "[domain]\nname = \"X\"\nbogus_key = 1\n");
  CliRun bad = Cli({"rebuild", "--domain=bad", "--projection=Balances"});
  EXPECT_EQ(bad.exit_code, 1);
  ASSERT_EQ(Lines(bad.out).size(), 1u) << bad.out;
  EXPECT_THAT(bad.out, StartsWith("Error loading Protean domain: "));
  EXPECT_THAT(bad.out, HasSubstr("bogus_key"));

  CliRun missing = Cli({"rebuild", "--domain=nowhere"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.out, StartsWith("Error loading Protean domain: "));

  CliRun escape = Cli({"projections", "--domain=../.."});
  EXPECT_EQ(escape.exit_code, 1);
  EXPECT_THAT(escape.out, StartsWith("Error loading Protean domain: "));
}

TEST_F(DaemonCliTest, ProteanDomainEnvironmentWins) {
  root_.Write("empty/domain.toml", absl::StrCat("[domain]\nname = \"Empty\"\n[event_store]\n"
                                                "provider = \"message_db\"\ndatabase_uri = \"",
                                                uri_, "\"\n"));
  CliRun run = Cli({"rebuild", "--domain=."}, {{"PROTEAN_DOMAIN", "empty"}});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out, "No projections found in domain.\n");
}

TEST_F(DaemonCliTest, ServerFromEnvironment) {
  CliRun run = Cli({"projections"}, {{"PROTEAN_ADMIN_SERVER", daemon_.server()}});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("Balances"));
  EXPECT_THAT(run.out, HasSubstr("TransactionProjector"));
  EXPECT_THAT(run.out, HasSubstr("test::transaction,test::user"));
}

TEST_F(DaemonCliTest, JsonLines) {
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  CliRun run = Cli({"rebuild", "--projection=Balances", "--json"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_GE(lines.size(), 2u);
  auto first = nlohmann::json::parse(lines.front());
  auto last = nlohmann::json::parse(lines.back());
  EXPECT_EQ(first["type"], "started");
  EXPECT_EQ(last["type"], "result");
  EXPECT_EQ(last["result"]["events_dispatched"], 1);
  bool saw_phase = false;
  for (const std::string& l : lines) saw_phase |= nlohmann::json::parse(l)["type"] == "phase";
  EXPECT_TRUE(saw_phase);
}

// ---- Exit codes 2 and 3 ----

TEST_F(DaemonCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Cli({"rebuild", "--strategy=sideways"}).exit_code, 2);
  EXPECT_EQ(Cli({"rebuild", "--batch-size=0"}).exit_code, 2);
  EXPECT_EQ(Cli({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Cli({"watch"}).exit_code, 2);
}

TEST_F(DaemonCliTest, UnreachableDaemonExitsThree) {
  std::string nowhere = absl::StrCat("127.0.0.1:", FreePort());
  CliRun run = Cli({"rebuild", "--server=" + nowhere});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_THAT(run.err, HasSubstr("cannot reach protean-admind at " + nowhere));
  EXPECT_EQ(Cli({"jobs"}, {{"PROTEAN_ADMIN_SERVER", nowhere}}).exit_code, 3);
}

// ---- The event-server guard (docs/design.md §6) ----

TEST_F(DaemonCliTest, GuardRefusesWhileTheEventServerAnswersAndForceOverrides) {
  Write("test::user-1", "Test.Registered.v1",
        R"({"user_id": "1", "email": "john@x", "name": "John"})");
  ASSERT_EQ(Cli({"rebuild", "--projection=Balances"}).exit_code, 0);  // none -> allowed
  HealthServer protean(health_port_, "HTTP/1.1 200 OK");
  Write("test::user-2", "Test.Registered.v1",
        R"({"user_id": "2", "email": "jane@x", "name": "Jane"})");
  CliRun refused = Cli({"rebuild", "--projection=Balances"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.out,
            absl::StrCat("Error: Refusing to rebuild: the Protean event server appears to be "
                         "running (GET http://127.0.0.1:",
                         health_port_, "/livez answered 200). Stop it or pass --force.\n"));
  EXPECT_GE(protean.requests(), 1);
  EXPECT_EQ(Query("SELECT count(*) FROM balances"), "1");  // untouched

  CliRun forced = Cli({"rebuild", "--projection=Balances", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  EXPECT_EQ(Query("SELECT count(*) FROM balances"), "2");
  EXPECT_THAT(forced.err, HasSubstr("guard was skipped"));
  EXPECT_THAT(DaemonProcess().Stderr(), HasSubstr("--force"));
}

TEST_F(DaemonCliTest, ExtraHealthProbe) {
  ASSERT_EQ(daemon_.Stop(), 0);
  int extra_port = FreePort();
  HealthServer other(extra_port, "HTTP/1.1 200 OK");
  StartDaemon({"--health-probe", absl::StrCat("http://127.0.0.1:", extra_port, "/readyz")});
  CliRun refused = Cli({"rebuild", "--projection=Balances"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.out, HasSubstr("/readyz answered 200"));
}

// ---- Jobs: cancel, dropped client, concurrency, shutdown ----

class SlowDaemonCliTest : public DaemonCliTest {
 protected:
  void SetUp() override {
    DaemonCliTest::SetUp();
    if (HasFatalFailure()) return;
    root_.Write("domain.toml", DomainToml(uri_, health_port_,
                                          std::string(kUserDirectoryProjector) + kPacingProjector));
    WriteBigHistory(1000, kTransactions);
    // kPaced events after the transactions: at least kPaced * 2 ms of replay.
    absl::Status paced = WritePacedEvents(*conn_, kPaced);
    ASSERT_TRUE(paced.ok()) << paced;
    // A first full rebuild: the "old" projection that a cancelled rebuild must leave intact.
    auto started = std::chrono::steady_clock::now();
    CliRun first = Cli({"rebuild", "--projection=Balances"});
    ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
    full_rebuild_ = std::chrono::steady_clock::now() - started;
    old_ = BalancesFingerprint();
    ASSERT_EQ(old_, absl::StrCat("1000/", kTransactions));
    // More history so that a new rebuild would change the projection.
    auto more = conn_->Exec(
        "INSERT INTO message_store.messages (stream_name, position, type, data, metadata) "
        "SELECT 'test::transaction-extra', g, 'Test.Transacted.v1', "
        "jsonb_build_object('user_id', 'u1', 'amount', 1.0), '{}'::jsonb "
        "FROM generate_series(0, 999) g");
    ASSERT_TRUE(more.ok()) << more.status();
  }

  static constexpr int kTransactions = 40000;
  static constexpr int kPaced = 1000;
  std::chrono::steady_clock::duration full_rebuild_{};
  std::string old_;
};

TEST_F(SlowDaemonCliTest, CtrlCCancelsTheJobAndTheOldProjectionStays) {
  std::cerr << "full rebuild of " << kTransactions + 1000 << " events took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(full_rebuild_).count()
            << " ms\n";
  auto cli = SpawnCli({"rebuild", "--projection=Balances", "--batch-size=20"});
  std::string job = WaitForRunningJob();
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(WaitForReplay(job));
  cli->Signal(SIGINT);
  int code = cli->Wait(60s);
  EXPECT_EQ(code, 1) << cli->Stdout() << cli->Stderr();
  EXPECT_THAT(cli->Stderr(), HasSubstr("cancelling job " + job));
  EXPECT_THAT(cli->Stdout(), StartsWith("Error: "));
  EXPECT_THAT(cli->Stdout(), HasSubstr("cancelled"));
  EXPECT_EQ(BalancesFingerprint(), old_);  // rolled back: the old rows are intact
  CliRun jobs = Cli({"jobs", "--json"});
  EXPECT_THAT(jobs.out, HasSubstr("\"state\":\"cancelled\""));
}

TEST_F(SlowDaemonCliTest, CancelCommandOnADetachedJob) {
  CliRun detached = Cli({"rebuild", "--projection=Balances", "--detach", "--batch-size=20"});
  ASSERT_EQ(detached.exit_code, 0) << detached.err;
  std::string job = Lines(detached.out).front();
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(WaitForReplay(job));
  CliRun cancel = Cli({"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  EXPECT_EQ(cancel.out, "Job " + job + " cancelled.\n");
  EXPECT_EQ(BalancesFingerprint(), old_);
  // Watching the ended job replays its end.
  CliRun watch = Cli({"watch", job});
  EXPECT_EQ(watch.exit_code, 1);
  EXPECT_THAT(watch.out, HasSubstr("cancelled"));
  EXPECT_EQ(Cli({"cancel", "no-such-job"}).exit_code, 1);
}

TEST_F(SlowDaemonCliTest, ADroppedClientsJobCompletesAndCanBeWatched) {
  auto cli = SpawnCli({"rebuild", "--projection=Balances", "--batch-size=20"});
  std::string job = WaitForRunningJob();
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(WaitForReplay(job));
  cli->Signal(SIGKILL);
  cli->Wait(10s);
  // The client is gone mid-replay; the job is still running on the daemon.
  CliRun running = Cli({"jobs", "--running", "--json"});
  EXPECT_THAT(running.out, HasSubstr(job));
  CliRun watch = Cli({"watch", job});
  EXPECT_EQ(watch.exit_code, 0) << watch.out << watch.err;
  EXPECT_EQ(watch.out,
            absl::StrCat("Rebuilt projection 'Balances': ", kTransactions + 2000 + kPaced,
                         " events processed through 2 projector(s) across 3 "
                         "category/categories.\n"));
  EXPECT_EQ(BalancesFingerprint(), absl::StrCat("1000/", kTransactions + 1000));
}

TEST_F(SlowDaemonCliTest, ASecondConcurrentRebuildIsRefused) {
  CliRun detached = Cli({"rebuild", "--projection=Balances", "--detach", "--batch-size=20"});
  ASSERT_EQ(detached.exit_code, 0) << detached.err;
  std::string job = Lines(detached.out).front();
  CliRun second = Cli({"rebuild", "--projection=Balances"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.out, HasSubstr("'Balances' is already being rebuilt"));
  CliRun all = Cli({"rebuild"});
  EXPECT_EQ(all.exit_code, 1);
  EXPECT_THAT(all.out, HasSubstr("already being rebuilt"));
  EXPECT_EQ(Cli({"cancel", job}).exit_code, 0);
}

TEST_F(SlowDaemonCliTest, SigtermDuringARebuildRollsBackAndExits) {
  auto cli = SpawnCli({"rebuild", "--projection=Balances", "--batch-size=20"});
  std::string job = WaitForRunningJob();
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(WaitForReplay(job));
  auto signalled = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon_.Stop(), 0) << DaemonProcess().Stderr();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 16s);
  EXPECT_EQ(cli->Wait(20s), 1);
  EXPECT_THAT(cli->Stdout(), HasSubstr("shutting down"));
  EXPECT_EQ(BalancesFingerprint(), old_);
  EXPECT_THAT(DaemonProcess().Stderr(), HasSubstr("interrupted"));
}

// ---- Reflection and health (what grpcurl and orchestration probes use) ----

TEST_F(DaemonCliTest, ReflectionListsTheServiceAndHealthServes) {
  auto channel = grpc::CreateChannel(daemon_.server(), grpc::InsecureChannelCredentials());
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& s : response.list_services_response().service()) services.push_back(s.name());
  EXPECT_THAT(services, ::testing::Contains("protean.admin.v1.ProjectionAdmin"));
  EXPECT_THAT(services, ::testing::Contains("grpc.health.v1.Health"));

  // The file descriptor of the service is served too (grpcurl describe).
  request.Clear();
  request.set_file_containing_symbol("protean.admin.v1.ProjectionAdmin");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_GT(response.file_descriptor_response().file_descriptor_proto_size(), 0);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext health_context;
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse answer;
  ASSERT_TRUE(health->Check(&health_context, check, &answer).ok());
  EXPECT_EQ(answer.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(DaemonCliTest, UnixSocketListener) {
  std::string socket_path = root_.path() + "/admind.sock";
  Process daemon(
      {PROTEAN_ADMIND_BINARY, "--listen", "unix:" + socket_path, "--domain-root", root_.path()}, {},
      logs_.path());
  auto channel = grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials());
  ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + 20s));
  CliRun run =
      Cli({"rebuild", "--projection=Balances"}, {{"PROTEAN_ADMIN_SERVER", "unix:" + socket_path}});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, StartsWith("Rebuilt projection 'Balances': 0 events processed"));
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(20s), 0);
}

}  // namespace
}  // namespace protean_admin::e2e
