#ifndef PROTEAN_ADMIN_CLIENT_IR_COMMAND_H_
#define PROTEAN_ADMIN_CLIENT_IR_COMMAND_H_

// `protean-admin ir import IR.json [-o FILE]` and `protean-admin ir check IR.json
// --domain=FILE [--domain-name NAME] [--json]` (docs/ir.md). Local: no daemon is called.
// Exit codes: 0 done / no drift, 1 drift (check) or a file that cannot be written (import),
// 2 usage or unreadable input. With --json, check prints exactly one Protean result envelope
// on stdout; messages go to stderr.

#include <ostream>
#include <string>

#include "CLI/CLI.hpp"

namespace protean_admin::client {

struct IrCommandLine {
  CLI::App* ir_cmd = nullptr;
  CLI::App* import_cmd = nullptr;
  CLI::App* check_cmd = nullptr;
  std::string ir_file;
  std::string output;       // import: -o
  std::string domain_file;  // check: --domain
  std::string domain_name;  // check: --domain-name (a domain.toml without [domain])
  bool json = false;
};

// Adds the `ir` subcommand and its two subcommands to `app`.
void AddIrCommand(CLI::App& app, IrCommandLine& cl);

// Whether `ir` was the parsed subcommand.
bool IrCommandParsed(const IrCommandLine& cl);

// Runs `ir import` or `ir check`; returns the exit code.
int RunIrCommand(const IrCommandLine& cl, std::ostream& out, std::ostream& err);

// The pieces, for tests.
int RunIrImport(const std::string& ir_file, const std::string& output, std::ostream& out,
                std::ostream& err);
int RunIrCheck(const IrCommandLine& cl, std::ostream& out, std::ostream& err);

}  // namespace protean_admin::client

#endif  // PROTEAN_ADMIN_CLIENT_IR_COMMAND_H_
