// The real `protean-admin ir import` and `ir check` binaries: exit codes (0 none, 1 drift,
// 2 usage or unreadable input), the text output and the --json envelope (exactly one JSON
// object on stdout, messages on stderr). No daemon runs: `ir` is local.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class IrCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / absl::StrCat("ir-cli-", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // protean-admin with `args` (each single-quoted), no daemon address in the environment.
  CliRun Cli(const std::vector<std::string>& args) {
    std::vector<std::string> quoted = {absl::StrCat("'", PROTEAN_ADMIN_CLI_BINARY, "'")};
    for (const std::string& a : args) {
      quoted.push_back(absl::StrCat("'", absl::StrReplaceAll(a, {{"'", "'\\''"}}), "'"));
    }
    const std::string command = absl::StrCat(
        "env -u PROTEAN_DOMAIN_NAME -u DATABASE_URL -u MESSAGE_DB_URL ", absl::StrJoin(quoted, " "),
        " > '", (dir_ / "out").string(), "' 2> '", (dir_ / "err").string(), "'");
    const int status = std::system(command.c_str());
    CliRun run;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = Read(dir_ / "out");
    run.err = Read(dir_ / "err");
    return run;
  }
  std::string Data(const std::string& name) { return absl::StrCat(IR_TEST_DATA_DIR, "/", name); }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  fs::path dir_;
};

TEST_F(IrCliTest, ImportThenCheckRoundTrips) {
  CliRun printed = Cli({"ir", "import", Data("ordering-ir.json")});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_THAT(printed.out, HasSubstr("[projections.OrderDashboard]"));
  CliRun written = Cli({"ir", "import", Data("ordering-ir.json"), "-o", Path("domain.toml")});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_EQ(written.out, "");
  EXPECT_EQ(Read(Path("domain.toml")), printed.out);

  CliRun check = Cli({"ir", "check", Data("ordering-ir.json"), "--domain", Path("domain.toml")});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out, "no drift between the IR and domain.toml\n");

  CliRun json =
      Cli({"ir", "check", Data("ordering-ir.json"), "--domain=" + Path("domain.toml"), "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json envelope = nlohmann::json::parse(json.out);  // exactly one object
  EXPECT_EQ(envelope["version"], "0.1.0");
  EXPECT_EQ(envelope["status"], "pass");
  EXPECT_EQ(envelope["diagnostics"], nlohmann::json::array());
  EXPECT_EQ(envelope["data"]["drift"], 0);
}

TEST_F(IrCliTest, DriftExitsOneAndListsIt) {
  ASSERT_EQ(Cli({"ir", "import", Data("test-bank-ir.json"), "-o", Path("domain.toml")}).exit_code,
            0);
  nlohmann::json ir = nlohmann::json::parse(Read(Data("test-bank-ir.json")));
  ir["clusters"]["bank.ledger.Transaction"]["events"]["bank.ledger.Transacted"]["__version__"] = 2;
  ir["clusters"]["bank.ledger.Transaction"]["events"]["bank.ledger.Transacted"]["__type__"] =
      "Test.Transacted.v2";
  nlohmann::json& handlers = ir["projections"]["bank.reports.Accounts"]["projectors"]
                               ["bank.reports.AccountsProjector"]["handlers"];
  handlers.erase("Test.Transacted.v1");
  handlers["Test.Transacted.v2"] = {"on_transacted"};
  Write("ir2.json", ir.dump());

  CliRun text = Cli({"ir", "check", Path("ir2.json"), "--domain", Path("domain.toml")});
  EXPECT_EQ(text.exit_code, 1) << text.out << text.err;
  EXPECT_THAT(text.out, HasSubstr("drift: event Transacted: version 2 in the IR "
                                  "(Test.Transacted.v2), 1 in domain.toml (Test.Transacted.v1)"));
  EXPECT_THAT(text.out, HasSubstr("note: projector AccountsProjector: the handler of Closed "
                                  "(on_closed) is a stub still to be written"));

  CliRun json = Cli({"ir", "check", Path("ir2.json"), "--domain", Path("domain.toml"), "--json"});
  EXPECT_EQ(json.exit_code, 1);
  nlohmann::json envelope = nlohmann::json::parse(json.out);
  EXPECT_EQ(envelope["status"], "fail");
  EXPECT_EQ(envelope["data"]["drift"], 1);
  std::vector<std::string> codes;
  for (const auto& d : envelope["diagnostics"]) codes.push_back(d["code"]);
  EXPECT_THAT(codes, ::testing::UnorderedElementsAre("EVENT_VERSION", "HANDLER_STUB"));
  EXPECT_THAT(json.err, HasSubstr("drift: event Transacted: version 2"));
}

TEST_F(IrCliTest, BadInputAndUsageExitTwo) {
  CliRun missing = Cli({"ir", "import", Path("nope.json")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope.json: cannot be read"));

  Write("bad.json", "{\"domain\": {\"name\": 5}}");
  CliRun bad = Cli({"ir", "import", Path("bad.json")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("bad.json: domain.name: expected a string, got 5"));

  CliRun json = Cli({"ir", "check", Path("bad.json"), "--domain", Path("x.toml"), "--json"});
  EXPECT_EQ(json.exit_code, 2);
  nlohmann::json envelope = nlohmann::json::parse(json.out);
  EXPECT_EQ(envelope["status"], "error");
  EXPECT_EQ(envelope["diagnostics"][0]["code"], "IR_UNREADABLE");

  Write("broken.toml", "[domain\n");
  CliRun toml = Cli({"ir", "check", Data("ordering-ir.json"), "--domain", Path("broken.toml")});
  EXPECT_EQ(toml.exit_code, 2);
  EXPECT_THAT(toml.err, HasSubstr("Error loading Protean domain: " + Path("broken.toml")));

  EXPECT_EQ(Cli({"ir", "check", Data("ordering-ir.json")}).exit_code, 2);  // --domain missing
  EXPECT_EQ(Cli({"ir"}).exit_code, 2);
}

// FILE:<instance> picks one of several [domains.<instance>] tables, as the daemon's --domain.
TEST_F(IrCliTest, DomainInstance) {
  CliRun printed = Cli({"ir", "import", Data("fidelis-ir.json")});
  ASSERT_EQ(printed.exit_code, 0);
  std::string nested;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(printed.out, '\n'))) {
    if (!line.empty() && line[0] == '[') {
      nested += "[domains.eu." + line.substr(1) + "\n";
    } else {
      nested += line + "\n";
    }
  }
  Write("multi.toml", nested + "\n[domains.us.domain]\nname = \"Other\"\n");
  CliRun several = Cli({"ir", "check", Data("fidelis-ir.json"), "--domain", Path("multi.toml")});
  EXPECT_EQ(several.exit_code, 2);
  EXPECT_THAT(several.err, HasSubstr("the file declares several domains"));
  CliRun eu = Cli({"ir", "check", Data("fidelis-ir.json"), "--domain", Path("multi.toml") + ":eu"});
  EXPECT_EQ(eu.exit_code, 0) << eu.out << eu.err;
}

// A domain.toml without [domain] (an application's own): the name from --domain-name, else
// the IR's.
TEST_F(IrCliTest, DomainWithoutDomainTable) {
  CliRun printed = Cli({"ir", "import", Data("ordering-ir.json")});
  ASSERT_EQ(printed.exit_code, 0);
  std::string toml = printed.out;
  const size_t start = toml.find("[domain]");
  toml.erase(start, toml.find("[event_store]") - start);
  Write("app.toml", toml);
  EXPECT_EQ(Cli({"ir", "check", Data("ordering-ir.json"), "--domain", Path("app.toml")}).exit_code,
            0);
  CliRun other = Cli({"ir", "check", Data("ordering-ir.json"), "--domain", Path("app.toml"),
                      "--domain-name", "Shop"});
  // Another name gives other categories ("shop::order"), which the projector's declared
  // ones no longer include: the file does not load under that name.
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_THAT(other.err, HasSubstr("(stream category \"shop::order\"), which projector "
                                   "OrderDashboardProjector does not read"));
}

}  // namespace
