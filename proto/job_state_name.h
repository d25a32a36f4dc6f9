#ifndef PROTEAN_ADMIN_PROTO_JOB_STATE_NAME_H_
#define PROTEAN_ADMIN_PROTO_JOB_STATE_NAME_H_

// The lowercase name of a job state, as the CLI prints it and the audit trail records it:
// "running", "succeeded", "failed", "cancelled", "interrupted" ("unknown" otherwise).

#include <string>

#include "protean/admin/v1/admin.pb.h"

namespace protean_admin {

std::string JobStateName(::protean::admin::v1::JobState state);

}  // namespace protean_admin

#endif  // PROTEAN_ADMIN_PROTO_JOB_STATE_NAME_H_
