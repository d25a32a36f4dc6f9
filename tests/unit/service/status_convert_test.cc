#include "server/service/status_convert.h"

#include "gtest/gtest.h"

namespace protean_admin::service {
namespace {

TEST(StatusConvertTest, EveryCodeMapsOneToOneWithItsMessage) {
  struct Case {
    absl::Status in;
    grpc::StatusCode out;
  };
  const Case cases[] = {
      {absl::CancelledError("c"), grpc::StatusCode::CANCELLED},
      {absl::InvalidArgumentError("c"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::NotFoundError("Projection 'X' not found"), grpc::StatusCode::NOT_FOUND},
      {absl::FailedPreconditionError("c"), grpc::StatusCode::FAILED_PRECONDITION},
      {absl::AbortedError("c"), grpc::StatusCode::ABORTED},
      {absl::ResourceExhaustedError("c"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::UnavailableError("c"), grpc::StatusCode::UNAVAILABLE},
      {absl::UnauthenticatedError("c"), grpc::StatusCode::UNAUTHENTICATED},
      {absl::PermissionDeniedError("c"), grpc::StatusCode::PERMISSION_DENIED},
      {absl::InternalError("c"), grpc::StatusCode::INTERNAL},
      {absl::DeadlineExceededError("c"), grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::UnknownError("c"), grpc::StatusCode::UNKNOWN},
      {absl::DataLossError("c"), grpc::StatusCode::DATA_LOSS},
      {absl::UnimplementedError("c"), grpc::StatusCode::UNIMPLEMENTED},
      {absl::OutOfRangeError("c"), grpc::StatusCode::OUT_OF_RANGE},
      {absl::AlreadyExistsError("c"), grpc::StatusCode::ALREADY_EXISTS},
  };
  for (const Case& c : cases) {
    grpc::Status s = ToGrpcStatus(c.in);
    EXPECT_EQ(s.error_code(), c.out) << c.in;
    EXPECT_EQ(s.error_message(), std::string(c.in.message()));
    absl::Status back = FromGrpcStatus(s);
    EXPECT_EQ(back.code(), c.in.code());
    EXPECT_EQ(back.message(), c.in.message());
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace protean_admin::service
