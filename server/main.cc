// protean-admind: the projection rebuild administration daemon.

#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "version.h"

int main(int argc, char** argv) {
  CLI::App app{"protean-admind: rebuilds the projections of Protean event-sourced domains "
               "from their Message DB event store, administered over gRPC."};
  app.name("protean-admind");
  app.set_version_flag("--version", std::string("protean-admind ") + protean_admin::kVersion);
  std::string listen = "127.0.0.1:50051";
  app.add_option("--listen", listen, "Address to listen on (host:port or unix:PATH)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::cerr << "protean-admind: the gRPC service is not implemented yet\n";
  return 1;
}
