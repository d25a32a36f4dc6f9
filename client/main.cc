// protean-admin: the command-line client of protean-admind.

#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "version.h"

int main(int argc, char** argv) {
  CLI::App app{"protean-admin: rebuild the projections of a Protean domain through "
               "protean-admind."};
  app.name("protean-admin");
  app.set_version_flag("--version", std::string("protean-admin ") + protean_admin::kVersion);
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  std::cerr << "protean-admin: commands are not implemented yet\n";
  return 1;
}
