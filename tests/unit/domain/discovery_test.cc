#include "domain/discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "domain/loader.h"

namespace protean_admin::domain {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Msg(const absl::Status& status) { return std::string(status.message()); }

std::string DomainText(const std::string& name) { return "[domain]\nname = \"" + name + "\"\n"; }

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("protean_admin_discovery_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "root";
    Write("domain.toml", DomainText("Root"));
    Write("pref/.domain.toml", DomainText("Hidden"));
    Write("pref/domain.toml", DomainText("Visible"));
    Write("only/domain.toml", DomainText("Only"));
    Write("files/custom.toml", DomainText("Custom"));
    Write("pkg1/domain.toml", DomainText("Pkg1"));
    Write("pkg1/domain/domain.toml", DomainText("Pkg1Nested"));
    Write("pkg2/domain/domain.toml", DomainText("Pkg2Nested"));
    Write("multi.toml", "[domains.eu.domain]\nname = \"Eu\"\n[domains.us.domain]\nname = \"Us\"\n");
    fs::create_directories(root_ / "empty");
    fs::create_directories(base_ / "outside");
    std::ofstream(base_ / "outside" / "domain.toml") << DomainText("Outside");
    fs::create_symlink(base_ / "outside" / "domain.toml", root_ / "link_out.toml");
    fs::create_directory_symlink(base_ / "outside", root_ / "dir_out");
    fs::create_symlink(root_ / "only" / "domain.toml", root_ / "link_in.toml");
    options_.domain_root = root_.string();
    options_.getenv = [](std::string_view) { return std::nullopt; };
  }
  void TearDown() override { fs::remove_all(base_); }

  void Write(const std::string& relative, const std::string& text) {
    fs::path path = root_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::string Name(std::string_view spec) {
    absl::StatusOr<Domain> d = LoadDomain(spec, options_);
    if (!d.ok()) return "error: " + Msg(d.status());
    return d->name;
  }

  fs::path base_;
  fs::path root_;
  LoadOptions options_;
};

TEST(SplitDomainSpecTest, SplitsAtFirstColonNotFollowedBySlash) {
  auto s = SplitDomainSpec("bank/domain.toml:eu");
  EXPECT_EQ(s.path, "bank/domain.toml");
  EXPECT_EQ(s.instance, "eu");
  EXPECT_TRUE(s.separated);
  s = SplitDomainSpec("a:b:c");
  EXPECT_EQ(s.path, "a");
  EXPECT_EQ(s.instance, "b:c");
  s = SplitDomainSpec("C:/domains/x.toml");
  EXPECT_EQ(s.path, "C:/domains/x.toml");
  EXPECT_EQ(s.instance, "");
  EXPECT_FALSE(s.separated);
  s = SplitDomainSpec("C:\\domains\\x.toml:us");
  EXPECT_EQ(s.path, "C:\\domains\\x.toml");
  EXPECT_EQ(s.instance, "us");
  s = SplitDomainSpec("my_package.domain");
  EXPECT_EQ(s.path, "my_package.domain");
  EXPECT_FALSE(s.separated);
  s = SplitDomainSpec("x.toml:");
  EXPECT_EQ(s.path, "x.toml");
  EXPECT_TRUE(s.separated);
  EXPECT_EQ(s.instance, "");
}

TEST(EffectiveDomainSpecTest, ProteanDomainWinsOverTheFlag) {
  auto env = [](std::map<std::string, std::string> vars) -> GetEnvFunction {
    return [vars](std::string_view name) -> std::optional<std::string> {
      auto it = vars.find(std::string(name));
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  };
  EXPECT_EQ(EffectiveDomainSpec("flag.toml", env({{"PROTEAN_DOMAIN", "env.toml"}})), "env.toml");
  EXPECT_EQ(EffectiveDomainSpec("flag.toml", env({})), "flag.toml");
  EXPECT_EQ(EffectiveDomainSpec("flag.toml", env({{"PROTEAN_DOMAIN", ""}})), "flag.toml");
  EXPECT_EQ(EffectiveDomainSpec("", env({})), ".");
  EXPECT_EQ(EffectiveDomainSpec("", env({{"PROTEAN_DOMAIN", "pkg.domain:eu"}})), "pkg.domain:eu");
  ::setenv("PROTEAN_DOMAIN", "from-process", 1);
  EXPECT_EQ(EffectiveDomainSpec("flag", nullptr), "from-process");
  ::unsetenv("PROTEAN_DOMAIN");
  EXPECT_EQ(EffectiveDomainSpec("flag", nullptr), "flag");
}

TEST_F(DiscoveryTest, DirectoriesFilesAndModules) {
  EXPECT_EQ(Name("."), "Root");
  EXPECT_EQ(Name(""), "Root");
  EXPECT_EQ(Name("pref"), "Hidden");  // .domain.toml first
  EXPECT_EQ(Name("pref/"), "Hidden");
  EXPECT_EQ(Name("only"), "Only");
  EXPECT_EQ(Name("files/custom.toml"), "Custom");
  EXPECT_EQ(Name("pref/domain.toml"), "Visible");
  EXPECT_EQ(Name("pkg1.domain"), "Pkg1");  // pkg1/domain.toml first
  EXPECT_EQ(Name("pkg2.domain"), "Pkg2Nested");
  EXPECT_EQ(Name("only.domain"), "Only");
  EXPECT_EQ(Name("files.custom"), "Custom");
  EXPECT_EQ(Name("only/../files/custom.toml"), "Custom");  // stays inside
  EXPECT_EQ(Name((root_ / "only").string()), "Only");      // absolute, inside
  EXPECT_EQ(Name("link_in.toml"), "Only");                 // symlink inside the root

  absl::StatusOr<ResolvedDomainFile> file = ResolveDomainFile("pkg2.domain", root_.string());
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->display_name, "pkg2/domain/domain.toml");
  EXPECT_EQ(file->file, fs::canonical(root_ / "pkg2/domain/domain.toml"));
  absl::StatusOr<Domain> d = LoadDomain("pkg2.domain", options_);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->source_file, "pkg2/domain/domain.toml");
}

TEST_F(DiscoveryTest, Instances) {
  EXPECT_EQ(Name("multi.toml:eu"), "Eu");
  EXPECT_EQ(Name("multi.toml:us"), "Us");
  EXPECT_EQ(Name("multi.toml"),
            "error: Error loading Protean domain: multi.toml: the file declares several "
            "domains (eu, us): pick one with --domain multi.toml:<instance>, e.g. --domain "
            "multi.toml:eu");
  EXPECT_EQ(Name("multi.toml:"),
            "error: Error loading Protean domain: empty domain instance "
            "in 'multi.toml:'");
  EXPECT_EQ(Name("only:x"),
            "error: Error loading Protean domain: only/domain.toml: domain instance 'x' "
            "requested, but the file declares a single domain (no [domains.<instance>] tables)");
}

TEST_F(DiscoveryTest, NotFound) {
  absl::StatusOr<Domain> d = LoadDomain("nope.toml", options_);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Msg(d.status()), "Error loading Protean domain: 'nope.toml' does not exist");
  d = LoadDomain("empty", options_);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Msg(d.status()),
            "Error loading Protean domain: no .domain.toml or domain.toml in directory 'empty'");
  d = LoadDomain("no_such.module", options_);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Msg(d.status()),
            "Error loading Protean domain: no domain file for module path 'no_such.module' "
            "(looked for no_such/module.toml and no_such/module/domain.toml)");
  LoadOptions missing_root = options_;
  missing_root.domain_root = (base_ / "missing").string();
  d = LoadDomain(".", missing_root);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(d.status()), StartsWith("Error loading Protean domain: domain root '"));
}

TEST_F(DiscoveryTest, EscapesAreRefused) {
  for (std::string spec :
       {std::string("../outside/domain.toml"), std::string("../outside"),
        std::string("only/../../outside/domain.toml"), (base_ / "outside" / "domain.toml").string(),
        std::string("/etc"), std::string("../outside/missing.toml")}) {
    absl::StatusOr<Domain> d = LoadDomain(spec, options_);
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition) << spec;
    EXPECT_EQ(Msg(d.status()),
              "Error loading Protean domain: domain path '" + spec + "' is outside the domain root")
        << spec;
  }
  for (std::string spec : {"link_out.toml", "dir_out", "dir_out/domain.toml"}) {
    absl::StatusOr<Domain> d = LoadDomain(spec, options_);
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition) << spec;
    EXPECT_EQ(Msg(d.status()), "Error loading Protean domain: domain path '" + spec +
                                   "' leaves the domain root through a symbolic link");
  }
  // Module paths are checked candidate by candidate.
  EXPECT_EQ(Name("dir_out.domain"),
            "error: Error loading Protean domain: domain path 'dir_out/domain.toml' leaves the "
            "domain root through a symbolic link");
  // A module path cannot climb out either (".." is not a module segment).
  EXPECT_THAT(Name("..outside"), HasSubstr("does not exist"));
}

}  // namespace
}  // namespace protean_admin::domain
