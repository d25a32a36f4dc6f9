#ifndef PROTEAN_ADMIN_SERVER_SERVICE_ADMIN_SERVICE_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_ADMIN_SERVICE_H_

// The gRPC service protean.admin.v1.ProjectionAdmin: thin handlers that validate the
// request, load the domain, hand jobs to the JobRegistry and stream their events.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "domain/model.h"
#include "protean/admin/v1/admin.grpc.pb.h"
#include "server/rebuild/projection_status.h"
#include "server/service/audit_trail.h"
#include "server/service/auth.h"
#include "server/service/job_registry.h"

namespace protean_admin::service {

struct AdminServiceOptions {
  // Every domain spec resolves inside this directory.
  std::string domain_root = ".";
  // How long CancelRebuild waits for the job to end when the call has no deadline.
  std::chrono::milliseconds cancel_wait{std::chrono::minutes(10)};
};

// Metadata key a client may send to say who is asking (unverified, logged; used as
// requested_by only when the call is neither token- nor certificate-authenticated).
inline constexpr char kRequestedByMetadata[] = "x-requested-by";
// Longer x-requested-by values are abbreviated (proto/request_limits.h) in logs and the audit
// trail.
inline constexpr size_t kMaxRequestedByBytes = 256;

class AdminService final : public ::protean::admin::v1::ProjectionAdmin::Service {
 public:
  // `tokens` (null: no token required) and `audit` (null: no audit trail) must outlive the
  // service.
  AdminService(AdminServiceOptions options, JobRegistry* registry,
               const TokenStore* tokens = nullptr, AuditTrail* audit = nullptr)
      : options_(std::move(options)), registry_(registry), tokens_(tokens), audit_(audit) {}

  grpc::Status RebuildProjection(grpc::ServerContext* context,
                                 const pb::RebuildProjectionRequest* request,
                                 grpc::ServerWriter<pb::RebuildEvent>* writer) override;
  grpc::Status RebuildAll(grpc::ServerContext* context, const pb::RebuildAllRequest* request,
                          grpc::ServerWriter<pb::RebuildEvent>* writer) override;
  grpc::Status ListProjections(grpc::ServerContext* context,
                               const pb::ListProjectionsRequest* request,
                               pb::ListProjectionsResponse* response) override;
  grpc::Status ListRebuilds(grpc::ServerContext* context, const pb::ListRebuildsRequest* request,
                            pb::ListRebuildsResponse* response) override;
  grpc::Status WatchRebuild(grpc::ServerContext* context, const pb::WatchRebuildRequest* request,
                            grpc::ServerWriter<pb::RebuildEvent>* writer) override;
  grpc::Status CancelRebuild(grpc::ServerContext* context, const pb::CancelRebuildRequest* request,
                             pb::CancelRebuildResponse* response) override;
  grpc::Status ProjectionStatus(grpc::ServerContext* context,
                                const pb::ProjectionStatusRequest* request,
                                pb::ProjectionStatusResponse* response) override;

 private:
  absl::StatusOr<std::shared_ptr<const domain::Domain>> Load(const std::string& spec) const;
  // Streams the job's events (history, then live) until it ends, the client goes away or,
  // with `detach`, right after `started`.
  grpc::Status Follow(grpc::ServerContext* context, Job& job,
                      grpc::ServerWriter<pb::RebuildEvent>* writer, bool detach);
  grpc::Status StartAndFollow(grpc::ServerContext* context, const Principal& principal,
                              JobSpec spec, grpc::ServerWriter<pb::RebuildEvent>* writer,
                              bool detach);

  AdminServiceOptions options_;
  JobRegistry* registry_;
  const TokenStore* tokens_;
  AuditTrail* audit_;
};

// What the audit trail and logs record as "who asked": the token name or client
// certificate subject when the call carried one, else the client's unverified
// x-requested-by metadata (abbreviated beyond kMaxRequestedByBytes), else "anonymous".
std::string RequestedByOf(const grpc::ServerContext& context, const Principal& principal);

// Validates shared rebuild options (batch size and domain within proto/request_limits.h's
// bounds, a known strategy: InvalidArgument otherwise) and fills a JobSpec with them.
absl::Status ApplyOptions(const pb::RebuildOptions& options, JobSpec* spec);

// The info ListProjections reports for one projection.
pb::ProjectionInfo DescribeProjection(const domain::Domain& domain,
                                      const domain::Projection& projection);

// One projection's status as the RPC reports it.
pb::ProjectionStatusEntry ToProto(const rebuild::ProjectionStatus& status);

// Logs the end of a job (who asked, what, outcome, counts, duration).
void LogJobFinished(const Job& job);

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_ADMIN_SERVICE_H_
