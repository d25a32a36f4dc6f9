#include "server/rebuild/skip_log.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace protean_admin::rebuild {

void SkipLog::Skipped(int projector, std::string_view projector_name, std::string_view event_type,
                      std::string_view reason, int64_t global_position, int64_t count) {
  if (projector >= 0) failed_[projector] += count;
  std::string key;
  key.append(projector_name).push_back('\0');
  key.append(event_type).push_back('\0');
  key.append(reason);
  auto it = index_.find(key);
  if (it == index_.end()) {
    SkipReason group;
    if (reasons_.size() < kMaxGroups) {
      group.projector = std::string(projector_name);
      group.event_type = std::string(event_type);
      group.reason = std::string(reason);
    } else {
      key = "(other reasons)";
      group.reason = key;
    }
    it = index_.find(key);
    if (it == index_.end()) {
      it = index_.emplace(std::move(key), reasons_.size()).first;
      reasons_.push_back(std::move(group));
    }
  }
  SkipReason& group = reasons_[it->second];
  group.count += count;
  if (group.first_positions.size() < kPositions) group.first_positions.push_back(global_position);
}

std::vector<SkipReason> SkipLog::Reasons() const {
  std::vector<SkipReason> sorted = reasons_;
  // Groups are recorded as events are applied, which within a batch is not always in order.
  auto first = [](const SkipReason& r) {
    return r.projector.empty() && r.event_type.empty() ? INT64_MAX : r.first_positions.front();
  };
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const SkipReason& a, const SkipReason& b) { return first(a) < first(b); });
  return sorted;
}

std::vector<std::string> SkipLog::AllFailedWarnings(
    const std::vector<std::string>& projector_names) const {
  std::vector<std::string> warnings;
  for (size_t p = 0; p < handled_.size(); ++p) {
    if (handled_[p] == 0 || failed_[p] < handled_[p]) continue;
    std::string first;
    for (const SkipReason& r : reasons_) {
      if (r.projector == projector_names[p]) {
        first = absl::StrCat(" (first: ", r.event_type, ": ", r.reason, ")");
        break;
      }
    }
    warnings.push_back(absl::StrCat("Projector '", projector_names[p], "': every one of the ",
                                    handled_[p], " events it handled failed", first));
  }
  return warnings;
}

}  // namespace protean_admin::rebuild
