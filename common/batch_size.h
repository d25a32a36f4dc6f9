#ifndef PROTEAN_ADMIN_COMMON_BATCH_SIZE_H_
#define PROTEAN_ADMIN_COMMON_BATCH_SIZE_H_

// The default number of events per page and batch of a rebuild, the one value the engine
// (rebuild::RebuildOptions), the daemon (a request's batch_size 0, proto/request_limits.h)
// and the CLI (--batch-size) share. It lives here rather than in proto/request_limits.h
// because the engine (server/rebuild) must not depend on the gRPC contract's libraries
// (tests/unit/layering/layering_test.cc), and the CLI must not include server/.

namespace protean_admin {

// Protean pages 500 events.
inline constexpr int kDefaultBatchSize = 500;

}  // namespace protean_admin

#endif  // PROTEAN_ADMIN_COMMON_BATCH_SIZE_H_
