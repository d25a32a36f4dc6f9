// The one-way layers of the repository (README.md, "Layout"), checked on every #include line
// of the tree and on the CLI's build file:
//   common/      includes nothing of the project but common/
//   proto/       the contract: no server/, storage/, transport/, client/
//   storage/     no server/, domain/, client/, transport/, and no gRPC or generated protobuf types
//   transport/   no server/, storage/, client/, proto/
//   domain/      no server/, storage/, transport/, proto/, client/, gRPC or protobuf types
//                (the domain model: linked by the daemon and by the CLI's `ir check`)
//   ir/          no server/, storage/, transport/, proto/, client/, gRPC or protobuf types
//                (Protean's IR, `ir import` and `ir check`: the CLI's, on the domain model)
//   client/      no server/, storage/ (the CLI compiles no daemon source)
//   server/rebuild  no server/service/, client/, transport/, gRPC or protobuf types
// A violation names the file, the line and the rule.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace protean_admin {
namespace {

namespace fs = std::filesystem;

struct Rule {
  std::string folder;                  // relative to the repository root, ends with '/'
  std::vector<std::string> forbidden;  // include path prefixes
  std::string why;
};

const std::vector<std::string> kGrpc = {"grpc/", "grpcpp/", "grpc++/", "google/protobuf/",
                                        "protean/admin/"};

std::vector<std::string> Join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<Rule> Rules() {
  return {
      {"common/", Join({"server/", "storage/", "transport/", "client/", "proto/", "bench/"}, kGrpc),
       "common/ is below every layer"},
      {"proto/", {"server/", "storage/", "transport/", "client/"}, "the contract is below them"},
      {"storage/", Join({"server/", "domain/", "client/", "transport/", "proto/"}, kGrpc),
       "storage/ speaks to PostgreSQL and Redis only"},
      {"transport/",
       {"server/", "storage/", "client/", "proto/"},
       "transport/ is shared by the daemon and the CLI"},
      {"client/", {"server/", "storage/"}, "the CLI compiles no daemon source"},
      {"domain/", Join({"server/", "storage/", "transport/", "proto/", "client/"}, kGrpc),
       "the domain model is below the engine and the CLI"},
      {"ir/", Join({"server/", "storage/", "transport/", "proto/", "client/"}, kGrpc),
       "the IR library needs the domain model only"},
      {"server/rebuild/", Join({"server/service/", "client/", "transport/", "proto/"}, kGrpc),
       "the engine has no gRPC types"},
  };
}

bool IsSource(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".h" || ext == ".cc" || ext == ".hpp" || ext == ".cpp";
}

// Every violation of `rules` by the #include lines of the sources under `root`.
std::vector<std::string> IncludeViolations(const fs::path& root, const std::vector<Rule>& rules) {
  static const std::regex kInclude(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::vector<std::string> violations;
  for (const Rule& rule : rules) {
    const fs::path folder = root / rule.folder;
    if (!fs::is_directory(folder)) continue;
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(folder)) {
      if (!entry.is_regular_file() || !IsSource(entry.path())) continue;
      std::ifstream in(entry.path());
      std::string line;
      for (int number = 1; std::getline(in, line); ++number) {
        std::smatch match;
        if (!std::regex_search(line, match, kInclude)) continue;
        const std::string included = match[1];
        for (const std::string& prefix : rule.forbidden) {
          if (!absl::StartsWith(included, prefix)) continue;
          violations.push_back(absl::StrCat(fs::relative(entry.path(), root).string(), ":", number,
                                            ": includes ", included, " (", rule.folder,
                                            " must not include ", prefix, ": ", rule.why, ")"));
        }
      }
    }
  }
  return violations;
}

// The CLI's build file must name no daemon source folder and no daemon library.
std::vector<std::string> ClientBuildViolations(const fs::path& root) {
  static const std::vector<std::string> kForbidden = {
      "server/", "storage/", "protean_admin_service", "protean_admin_rebuild",
      "protean_admin_storage"};
  std::vector<std::string> violations;
  std::ifstream in(root / "client/CMakeLists.txt");
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (absl::StartsWith(line, "#")) continue;
    for (const std::string& word : kForbidden) {
      if (absl::StrContains(line, word)) {
        violations.push_back(absl::StrCat("client/CMakeLists.txt:", number, ": names ", word,
                                          " (the CLI builds without daemon code)"));
      }
    }
  }
  return violations;
}

TEST(LayeringTest, NoFolderIncludesALayerItMustNot) {
  const fs::path root(PROTEAN_ADMIN_SOURCE_DIR);
  ASSERT_TRUE(fs::is_directory(root / "server/rebuild")) << root;
  EXPECT_THAT(IncludeViolations(root, Rules()), ::testing::IsEmpty());
}

TEST(LayeringTest, TheCliBuildsWithoutDaemonCode) {
  const fs::path root(PROTEAN_ADMIN_SOURCE_DIR);
  ASSERT_TRUE(fs::exists(root / "client/CMakeLists.txt")) << root;
  EXPECT_THAT(ClientBuildViolations(root), ::testing::IsEmpty());
}

// The checks themselves find what they must: a scratch tree with one bad include per rule
// kind and a CLI build naming a daemon source.
TEST(LayeringTest, TheChecksCatchViolations) {
  const fs::path root = fs::temp_directory_path() / absl::StrCat("layering-", getpid());
  fs::remove_all(root);
  const auto write = [&](const std::string& file, const std::string& text) {
    fs::create_directories((root / file).parent_path());
    std::ofstream(root / file) << text;
  };
  write("client/commands.h", "#include \"server/service/tls_client.h\"\n");
  write("storage/a.cc", "#include <string>\n  #  include \"domain/model.h\"\n");
  write("domain/loader.cc", "#include \"server/rebuild/plan.h\"\n");
  write("transport/t.h", "#include \"transport/file_contents.h\"\n");  // allowed
  write("server/rebuild/engine.cc", "#include <grpcpp/grpcpp.h>\n");
  write("client/CMakeLists.txt", "add_library(c STATIC ${PROJECT_SOURCE_DIR}/server/x.cc)\n");

  EXPECT_THAT(
      IncludeViolations(root, Rules()),
      ::testing::UnorderedElementsAre(
          ::testing::StartsWith("client/commands.h:1: includes server/service/tls_client.h"),
          ::testing::StartsWith("storage/a.cc:2: includes domain/model.h"),
          ::testing::StartsWith("domain/loader.cc:1: includes server/rebuild/plan.h"),
          ::testing::StartsWith("server/rebuild/engine.cc:1: includes grpcpp/grpcpp.h")));
  EXPECT_THAT(
      ClientBuildViolations(root),
      ::testing::ElementsAre(::testing::StartsWith("client/CMakeLists.txt:1: names server/")));
  fs::remove_all(root);
}

}  // namespace
}  // namespace protean_admin
