#ifndef PROTEAN_ADMIN_PROTO_REQUEST_LIMITS_H_
#define PROTEAN_ADMIN_PROTO_REQUEST_LIMITS_H_

// Bounds of the ProjectionAdmin request fields (stated in proto/protean/admin/v1/admin.proto),
// shared by the daemon, which refuses a request beyond them with INVALID_ARGUMENT before doing
// anything, and the CLI, which refuses such arguments itself (exit 2) before calling. Also the
// one way to echo text a client sent into an error or a log line: Abbreviate.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/batch_size.h"

namespace protean_admin {

// RebuildOptions.batch_size: 1..kMaxBatchSize (0 means kDefaultBatchSize, common/batch_size.h).
// Operators use up to tens of thousands. Memory stays bounded whatever the batch size
// (storage/message_prefetcher.h bounds a batch's bytes); the bound refuses nonsense.
inline constexpr int kMaxBatchSize = 100000;
// RebuildProjectionRequest.projection (a Python class name in domain.toml).
inline constexpr size_t kMaxProjectionNameBytes = 256;
// RebuildOptions.domain, ListProjectionsRequest.domain and ListRebuildsRequest.domain (a path
// or module path inside the daemon's domain root).
inline constexpr size_t kMaxDomainSpecBytes = 1024;
// WatchRebuildRequest.job_id and CancelRebuildRequest.job_id.
inline constexpr size_t kMaxJobIdBytes = 256;
// What Abbreviate keeps of a text by default.
inline constexpr size_t kMaxEchoBytes = 64;

// `text` itself when it has at most `max_bytes` bytes; otherwise its first `max_bytes` bytes at
// most (never cutting a UTF-8 character), "…" and its length: "AAAA…(102400 bytes)".
std::string Abbreviate(std::string_view text, size_t max_bytes = kMaxEchoBytes);

// OK when `value` has at most `max_bytes` bytes; otherwise InvalidArgument naming `field` and
// the bound and quoting the value abbreviated: "projection is longer than 256 bytes:
// 'AAAA…(102400 bytes)'".
absl::Status CheckLength(std::string_view field, std::string_view value, size_t max_bytes);

// OK for 0 (the default) up to kMaxBatchSize; InvalidArgument otherwise, naming the bound.
absl::Status CheckBatchSize(int64_t batch_size);

}  // namespace protean_admin

#endif  // PROTEAN_ADMIN_PROTO_REQUEST_LIMITS_H_
