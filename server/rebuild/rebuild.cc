#include "server/rebuild/rebuild.h"

namespace protean_admin::rebuild {

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPlanning:
      return "planning";
    case Phase::kGuard:
      return "guard";
    case Phase::kSnapshot:
      return "snapshot";
    case Phase::kTruncate:
      return "truncate";
    case Phase::kReplay:
      return "replay";
    case Phase::kHandOff:
      return "hand-off";
    case Phase::kCommit:
      return "commit";
    case Phase::kDone:
      return "done";
  }
  return "unknown";
}

}  // namespace protean_admin::rebuild
