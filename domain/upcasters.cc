#include "domain/upcasters.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "domain/names.h"

namespace protean_admin::domain {
namespace {

std::string V(int version) { return absl::StrCat("v", version); }

// One event's upcasters: from_version -> (to_version, index in domain.upcasters).
using UpcasterGraph = std::map<int, std::pair<int, size_t>>;

// The graph of the upcasters at `indices` (all of event `base`): versions >= 1, one upcaster
// per from_version.
absl::StatusOr<UpcasterGraph> BuildGraph(const Domain& domain, const std::string& base,
                                         const std::vector<size_t>& indices) {
  UpcasterGraph adjacency;
  for (size_t index : indices) {
    const Upcaster& u = domain.upcasters[index];
    for (const auto& [what, version] : {std::pair<const char*, int>{"from_version", u.from_version},
                                        std::pair<const char*, int>{"to_version", u.to_version}}) {
      if (version < 1) {
        return absl::FailedPreconditionError(
            absl::StrCat("Invalid ", what, " ", version, " for event `", base, "`: must be >= 1"));
      }
    }
    auto existing = adjacency.find(u.from_version);
    if (existing != adjacency.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("Duplicate upcaster for `", base, "` from version `", V(u.from_version),
                       "`: upcasters[", existing->second.second, "] (→ ", V(existing->second.first),
                       ") and upcasters[", index, "] (→ ", V(u.to_version), ")"));
    }
    adjacency[u.from_version] = {u.to_version, index};
  }
  return adjacency;
}

// The chain converges to one terminal version, the event's current `version`, without cycles.
absl::Status CheckChain(const UpcasterGraph& adjacency, const std::string& base, int version) {
  std::set<int> all_from, all_to;
  for (const auto& [from, edge] : adjacency) {
    all_from.insert(from);
    all_to.insert(edge.first);
  }
  std::vector<std::string> terminal;
  int current = 0;
  for (int to : all_to) {
    if (!all_from.count(to)) {
      terminal.push_back(absl::StrCat("'", V(to), "'"));
      current = to;
    }
  }
  if (terminal.size() != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("Upcaster chain for `", base,
                     "` does not converge to a single current version. Terminal versions "
                     "found: [",
                     absl::StrJoin(terminal, ", "), "]"));
  }
  if (current != version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Upcaster chain for `", base, "` targets version `", V(current),
        "`, but no event is registered with type string `", base, ".", V(current), "`"));
  }
  for (int start : all_from) {
    std::set<int> visited;
    int v = start;
    for (auto it = adjacency.find(v); it != adjacency.end(); it = adjacency.find(v)) {
      if (!visited.insert(v).second) {
        return absl::FailedPreconditionError(absl::StrCat("Cycle detected in upcaster chain for `",
                                                          base, "` at version `", V(v), "`"));
      }
      v = it->second.first;
    }
    // Without a cycle every walk ends at the single terminal version (`current`).
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateUpcasters(const Domain& domain) {
  // Edges per event, in declaration order: from -> (to, index in domain.upcasters).
  std::map<std::string, std::vector<size_t>> by_event;
  std::vector<std::string> order;
  for (size_t i = 0; i < domain.upcasters.size(); ++i) {
    const Upcaster& u = domain.upcasters[i];
    if (domain.FindEvent(u.event) == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("Upcaster for unknown event `", u.event, "`"));
    }
    auto [it, inserted] = by_event.try_emplace(u.event);
    if (inserted) order.push_back(u.event);
    it->second.push_back(i);
  }
  for (const std::string& event_name : order) {
    const Event* event = domain.FindEvent(event_name);
    std::string base = absl::StrCat(domain.camel_case_name, ".", event_name);
    absl::StatusOr<UpcasterGraph> graph = BuildGraph(domain, base, by_event[event_name]);
    if (!graph.ok()) return graph.status();
    if (absl::Status chain = CheckChain(*graph, base, event->version); !chain.ok()) return chain;
  }
  return absl::OkStatus();
}

absl::Status ApplyUpcaster(const Upcaster& upcaster, nlohmann::json& payload) {
  if (!payload.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot upcast ", upcaster.event, " v",
                                                   upcaster.from_version,
                                                   ": the payload is not a JSON object"));
  }
  for (const auto& [from, to] : upcaster.rename) {
    auto it = payload.find(from);
    if (it == payload.end()) continue;
    nlohmann::json value = std::move(*it);
    payload.erase(it);
    payload[to] = std::move(value);
  }
  for (const std::string& field : upcaster.remove) payload.erase(field);
  if (upcaster.defaults.is_object()) {
    for (auto it = upcaster.defaults.begin(); it != upcaster.defaults.end(); ++it) {
      if (!payload.contains(it.key())) payload[it.key()] = it.value();
    }
  }
  if (upcaster.set.is_object()) {
    for (auto it = upcaster.set.begin(); it != upcaster.set.end(); ++it) {
      payload[it.key()] = it.value();
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyUpcasters(const std::vector<const Upcaster*>& chain, nlohmann::json& payload) {
  for (const Upcaster* step : chain) {
    absl::Status status = ApplyUpcaster(*step, payload);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace protean_admin::domain
