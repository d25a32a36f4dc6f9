#ifndef PROTEAN_ADMIN_SERVER_SERVICE_STATUS_CONVERT_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_STATUS_CONVERT_H_

// The one place where absl::Status values of the inner layers become grpc::Status values
// at the RPC edge (codes as documented in proto/protean/admin/v1/admin.proto).

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace protean_admin::service {

// Maps the code one to one (both follow google.rpc.Code) and keeps the message verbatim.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse, for statuses carried in events (JobFailed) and tests.
absl::Status FromGrpcStatus(const grpc::Status& status);

grpc::StatusCode ToGrpcCode(absl::StatusCode code);

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_STATUS_CONVERT_H_
