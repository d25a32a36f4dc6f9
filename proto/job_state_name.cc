#include "proto/job_state_name.h"

namespace protean_admin {

std::string JobStateName(::protean::admin::v1::JobState state) {
  namespace pb = ::protean::admin::v1;
  switch (state) {
    case pb::JOB_STATE_RUNNING:
      return "running";
    case pb::JOB_STATE_SUCCEEDED:
      return "succeeded";
    case pb::JOB_STATE_FAILED:
      return "failed";
    case pb::JOB_STATE_CANCELLED:
      return "cancelled";
    case pb::JOB_STATE_INTERRUPTED:
      return "interrupted";
    default:
      return "unknown";
  }
}

}  // namespace protean_admin
