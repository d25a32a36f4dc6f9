#ifndef PROTEAN_ADMIN_SERVER_REBUILD_SKIP_LOG_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_SKIP_LOG_H_

// Why a rebuild skipped events: skips grouped by projector, stored event type and reason
// (in order of first occurrence, with the global positions of the first few), and per
// projector how many of the events it handled failed. A value: the engine copies it at the
// start of an epoch and restores the copy when the epoch is replayed.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/rebuild/rebuild.h"

namespace protean_admin::rebuild {

class SkipLog {
 public:
  // Groups beyond this many fall into one last group, "(other reasons)".
  static constexpr size_t kMaxGroups = 50;
  // Global positions kept per group.
  static constexpr size_t kPositions = 5;

  explicit SkipLog(size_t projectors = 0) : handled_(projectors, 0), failed_(projectors, 0) {}

  // An event reached a handler of projector `projector` (an index).
  void Handled(int projector) { ++handled_[projector]; }
  // An event was skipped `count` times: by projector `projector` (its handler failed), or,
  // with -1 and an empty name, by every projector listening (its type cannot be resolved).
  void Skipped(int projector, std::string_view projector_name, std::string_view event_type,
               std::string_view reason, int64_t global_position, int64_t count = 1);

  // The groups in order of their first global position ("(other reasons)" last).
  std::vector<SkipReason> Reasons() const;
  // "Projector 'X': every one of the 25 events it handled failed (first: reason)" for each
  // projector that handled events and had every one of them fail.
  std::vector<std::string> AllFailedWarnings(const std::vector<std::string>& projector_names) const;

 private:
  std::vector<int64_t> handled_;
  std::vector<int64_t> failed_;
  std::vector<SkipReason> reasons_;
  absl::flat_hash_map<std::string, size_t> index_;  // projector \0 type \0 reason -> group
};

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_SKIP_LOG_H_
