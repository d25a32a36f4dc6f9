// rebuild_bench: one engine rebuild of one projection, in its own process, so that its peak
// resident memory is the engine's. Prints one line:
//   result seconds=<s> dispatched=<n> skipped=<n> success=<0|1> maxrss_kib=<k> errors=<text>
//
//   rebuild_bench --domain-file bench/domain.toml --instance action --projection Balances
//       --message-db-url URI --database-url URI [--batch-size 500] [--strategy atomic]
//       [--row-cache-mib N] [--sql-epoch-events N]

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "CLI/CLI.hpp"
#include "common/batch_size.h"
#include "domain/loader.h"
#include "server/rebuild/rebuild.h"

namespace {

long PeakRssKib() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  namespace domain = protean_admin::domain;
  namespace rebuild = protean_admin::rebuild;
  CLI::App app{"One rebuild through the protean-admin engine, timed"};
  std::string domain_file, instance, projection = "Balances", message_db_url, database_url;
  std::string strategy = "atomic";
  int batch_size = protean_admin::kDefaultBatchSize;
  int64_t row_cache_mib = rebuild::RebuildOptions().row_cache_bytes >> 20;
  int64_t sql_epoch_events = rebuild::RebuildOptions().sql_epoch_events;
  app.add_option("--domain-file", domain_file, "domain.toml")->required();
  app.add_option("--instance", instance, "[domains.<instance>] to use");
  app.add_option("--projection", projection, "projection to rebuild");
  app.add_option("--message-db-url", message_db_url, "MESSAGE_DB_URL for the domain file")
      ->required();
  app.add_option("--database-url", database_url, "DATABASE_URL for the domain file")->required();
  app.add_option("--batch-size", batch_size, "events per batch");
  app.add_option("--row-cache-mib", row_cache_mib, "action form: memory for held rows (MiB)");
  app.add_option("--sql-epoch-events", sql_epoch_events, "SQL form: events per epoch");
  bool sql_per_event = false;
  app.add_flag("--sql-per-event", sql_per_event,
               "SQL form: every statement once per event (no set-based waves, not in memory)");
  bool sql_waves = false;
  app.add_flag("--sql-waves", sql_waves,
               "SQL form: statements in set-based waves where they can (not in memory)");
  int read_connections = rebuild::RebuildOptions().read_connections;
  app.add_option("--read-connections", read_connections, "connections reading the history");
  app.add_option("--strategy", strategy, "atomic|inplace")
      ->check(CLI::IsMember({"atomic", "inplace"}));
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(domain_file);
  if (!in) {
    std::fprintf(stderr, "rebuild_bench: cannot read %s\n", domain_file.c_str());
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  domain::LoadOptions load_options;
  load_options.domain_root = std::filesystem::path(domain_file).parent_path().string();
  load_options.getenv = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "MESSAGE_DB_URL") return message_db_url;
    if (name == "DATABASE_URL") return database_url;
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  auto loaded = domain::ParseDomain(text.str(), domain_file, instance, load_options);
  if (!loaded.ok()) {
    std::fprintf(stderr, "rebuild_bench: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }

  rebuild::RebuildOptions options;
  options.batch_size = batch_size;
  options.row_cache_bytes = row_cache_mib << 20;
  options.sql_epoch_events = sql_epoch_events;
  options.sql_set_based = !sql_per_event;
  options.sql_in_memory = !sql_per_event && !sql_waves;
  options.read_connections = read_connections;
  options.strategy =
      strategy == "inplace" ? rebuild::Strategy::kInplace : rebuild::Strategy::kAtomic;
  options.hand_off = false;
  auto start = std::chrono::steady_clock::now();
  auto result = rebuild::RebuildProjection(*loaded, projection, options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.ok()) {
    std::fprintf(stderr, "rebuild_bench: %s\n", result.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "rebuild_bench: SQL-form events: %lld in memory, %lld set-based\n",
               static_cast<long long>(result->sql_in_memory_events),
               static_cast<long long>(result->sql_set_based_events));
  std::string errors;
  for (const std::string& e : result->errors) errors += (errors.empty() ? "" : "; ") + e;
  std::printf(
      "result seconds=%.6f dispatched=%lld skipped=%lld success=%d maxrss_kib=%ld errors=%s\n",
      seconds, static_cast<long long>(result->events_dispatched),
      static_cast<long long>(result->events_skipped), result->success() ? 1 : 0, PeakRssKib(),
      errors.c_str());
  return result->success() ? 0 : 1;
}
