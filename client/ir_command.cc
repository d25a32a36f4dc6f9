#include "client/ir_command.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "domain/loader.h"
#include "ir/ir_check.h"
#include "ir/ir_import.h"
#include "ir/ir_model.h"

namespace protean_admin::client {
namespace {

// The CLI's exit codes (client/output.h), without its gRPC types.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// ${VAR} in a checked domain.toml: the real value when set, else a placeholder, so that CI
// checks need no database credentials. PROTEAN_ENV and PROTEAN_DOMAIN_NAME stay as they are.
std::optional<std::string> CheckEnv(std::string_view name) {
  const std::string key(name);
  const char* value = std::getenv(key.c_str());
  if (value != nullptr) return std::string(value);
  if (name == "PROTEAN_ENV" || name == "PROTEAN_DOMAIN_NAME") return std::nullopt;
  return absl::StrCat("unset:", key);
}

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Text output of a check: one line per drift item and note.
void PrintCheck(const ir::CheckResult& result, std::ostream& out) {
  for (const ir::Drift& d : result.drift) out << "drift: " << d.message << "  [" << d.code << "]\n";
  for (const ir::Drift& d : result.notes) out << "note: " << d.message << "  [" << d.code << "]\n";
  if (result.drift.empty()) {
    out << "no drift between the IR and domain.toml\n";
  } else {
    out << result.drift.size() << " drift item(s)\n";
  }
}

}  // namespace

void AddIrCommand(CLI::App& app, IrCommandLine& cl) {
  cl.ir_cmd = app.add_subcommand(
      "ir", "Protean's IR (`protean ir show`): write a domain.toml from it, or check one");
  cl.ir_cmd->require_subcommand(1, 1);
  cl.import_cmd = cl.ir_cmd->add_subcommand(
      "import", "Print a domain.toml written from the IR (review the lines marked \"review\")");
  cl.import_cmd->add_option("IR", cl.ir_file, "IR file (JSON)")->required();
  cl.import_cmd->add_option("-o,--output", cl.output, "Write the domain.toml to FILE");
  cl.check_cmd = cl.ir_cmd->add_subcommand(
      "check", "List drift between the IR and a domain.toml (exit 1 when there is some)");
  cl.check_cmd->add_option("IR", cl.ir_file, "IR file (JSON)")->required();
  cl.check_cmd->add_option("--domain", cl.domain_file, "domain.toml to check (FILE[:instance])")
      ->required();
  cl.check_cmd->add_option("--domain-name", cl.domain_name,
                           "Domain name when the file has no [domain] table (default: "
                           "$PROTEAN_DOMAIN_NAME, else the IR's)");
  cl.check_cmd->add_flag("--json", cl.json, "Print one JSON object: Protean's result envelope");
}

bool IrCommandParsed(const IrCommandLine& cl) { return cl.ir_cmd != nullptr && *cl.ir_cmd; }

int RunIrImport(const std::string& ir_file, const std::string& output, std::ostream& out,
                std::ostream& err) {
  absl::StatusOr<ir::Ir> parsed = ir::ReadIrFile(ir_file);
  if (!parsed.ok()) {
    err << "protean-admin: " << parsed.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<ir::ImportResult> result = ir::ImportIr(*parsed);
  if (!result.ok()) {
    err << "protean-admin: " << ir_file << ": " << result.status().message() << "\n";
    return kExitUsage;
  }
  for (const std::string& warning : result->warnings) {
    err << "protean-admin: warning: " << warning << "\n";
  }
  if (output.empty()) {
    out << result->toml;
    return kExitOk;
  }
  std::ofstream file(output, std::ios::binary | std::ios::trunc);
  file << result->toml;
  file.close();
  if (!file) {
    err << "protean-admin: " << output << ": cannot be written\n";
    return kExitFailure;
  }
  err << "protean-admin: wrote " << output << "\n";
  return kExitOk;
}

int RunIrCheck(const IrCommandLine& cl, std::ostream& out, std::ostream& err) {
  auto fail = [&](const std::string& code, const auto& message) {
    err << "protean-admin: " << message << "\n";
    if (cl.json) out << ir::ErrorEnvelope(code, std::string(message)).dump() << "\n";
    return kExitUsage;
  };
  absl::StatusOr<ir::Ir> parsed = ir::ReadIrFile(cl.ir_file);
  if (!parsed.ok()) return fail("IR_UNREADABLE", parsed.status().message());
  // FILE or FILE:<instance> (a file of [domains.<instance>] tables), as the daemon's --domain.
  std::string file = cl.domain_file;
  std::string instance;
  const size_t colon = file.rfind(':');
  if (colon != std::string::npos && !std::filesystem::exists(file)) {
    instance = file.substr(colon + 1);
    file.resize(colon);
  }
  absl::StatusOr<std::string> text = ReadText(file);
  if (!text.ok()) return fail("DOMAIN_UNREADABLE", text.status().message());
  domain::LoadOptions options;
  options.getenv = CheckEnv;
  options.domain_name = cl.domain_name;
  if (options.domain_name.empty() && CheckEnv("PROTEAN_DOMAIN_NAME") == std::nullopt) {
    options.domain_name = parsed->name;  // only used when the file has no [domain]
  }
  absl::StatusOr<domain::Domain> loaded = domain::ParseDomain(*text, file, instance, options);
  if (!loaded.ok()) return fail("DOMAIN_INVALID", loaded.status().message());
  ir::CheckResult result = ir::CheckDrift(*parsed, *loaded, ir::FindHandlerStubs(*text));
  if (cl.json) {
    out << ir::CheckEnvelope(result, cl.ir_file, cl.domain_file).dump() << "\n";
    for (const ir::Drift& d : result.drift) err << "drift: " << d.message << "\n";
  } else {
    PrintCheck(result, out);
  }
  return result.drift.empty() ? kExitOk : kExitFailure;
}

int RunIrCommand(const IrCommandLine& cl, std::ostream& out, std::ostream& err) {
  if (*cl.import_cmd) return RunIrImport(cl.ir_file, cl.output, out, err);
  if (*cl.check_cmd) return RunIrCheck(cl, out, err);
  return kExitUsage;
}

}  // namespace protean_admin::client
