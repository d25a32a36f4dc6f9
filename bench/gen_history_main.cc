// protean-gen-history: writes the reference bank workload (bench/workload.h) into a Message DB.
//
//   protean-gen-history --uri postgresql://... [--events N | --users U --transactions T]
//       [--profile-updates P] [--unknown X] [--v1-fraction 0.1] [--domain Bank] [--seed 1]

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "bench/workload.h"

int main(int argc, char** argv) {
  using protean_admin::bench::WorkloadOptions;
  CLI::App app{"Writes a Protean-shaped bank history into a Message DB (message_store.messages)"};
  std::string uri;
  int64_t events = 0;
  int64_t users = -1, transactions = -1, profile_updates = -1, unknown = -1;
  WorkloadOptions defaults;
  std::string domain = defaults.domain_name;
  double v1_fraction = defaults.v1_fraction;
  uint64_t seed = defaults.seed;
  int connections = defaults.connections;
  std::string user_category = defaults.user_category;
  std::string transaction_category = defaults.transaction_category;
  app.add_option("--uri", uri, "libpq URI of the event store database")->required();
  app.add_option("--events", events,
                 "about this many events: users = N/10, transactions = N - users, "
                 "profile updates = N/100, unknown = min(10, N/100)");
  app.add_option("--users", users, "number of users (Registered)");
  app.add_option("--transactions", transactions, "number of transactions (Transacted)");
  app.add_option("--profile-updates", profile_updates, "number of ProfileUpdated events");
  app.add_option("--unknown", unknown, "number of events of a type the domain no longer knows");
  app.add_option("--v1-fraction", v1_fraction, "fraction of transactions stored at v1");
  app.add_option("--domain", domain, "domain name (categories and type strings derive from it)");
  app.add_option("--user-category", user_category, "stream_category of the User aggregate");
  app.add_option("--transaction-category", transaction_category,
                 "stream_category of the Transaction aggregate");
  app.add_option("--seed", seed, "random seed (same seed, same history)");
  app.add_option("--connections", connections, "parallel COPY connections");
  CLI11_PARSE(app, argc, argv);

  WorkloadOptions options =
      events > 0 ? protean_admin::bench::SizesForEvents(events) : WorkloadOptions{};
  if (users >= 0) options.users = users;
  if (transactions >= 0) options.transactions = transactions;
  if (profile_updates >= 0) options.profile_updates = profile_updates;
  if (unknown >= 0) options.unknown_events = unknown;
  options.domain_name = domain;
  options.user_category = user_category;
  options.transaction_category = transaction_category;
  options.v1_fraction = v1_fraction;
  options.seed = seed;
  options.connections = connections;

  auto summary = protean_admin::bench::GenerateHistory(uri, options);
  if (!summary.ok()) {
    std::fprintf(stderr, "protean-gen-history: %s\n",
                 std::string(summary.status().message()).c_str());
    return 1;
  }
  std::printf(
      "wrote %lld events (%lld users, %lld transactions of which %lld at v1, %lld profile "
      "updates, %lld unknown) at global positions %lld..%lld in %.2f s (%.0f events/s)\n",
      static_cast<long long>(summary->events), static_cast<long long>(summary->users),
      static_cast<long long>(summary->transactions),
      static_cast<long long>(summary->transactions_v1),
      static_cast<long long>(summary->profile_updates),
      static_cast<long long>(summary->unknown_events),
      static_cast<long long>(summary->first_global_position),
      static_cast<long long>(summary->last_global_position), summary->seconds,
      summary->seconds > 0 ? summary->events / summary->seconds : 0.0);
  return 0;
}
