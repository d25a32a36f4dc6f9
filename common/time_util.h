#ifndef PROTEAN_ADMIN_COMMON_TIME_UTIL_H_
#define PROTEAN_ADMIN_COMMON_TIME_UTIL_H_

// Wall-clock time as the project records it (audit rows, job events, the CLI's "ago").

#include <chrono>
#include <cstdint>

namespace protean_admin {

// Milliseconds since the Unix epoch, now (system clock).
inline int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace protean_admin

#endif  // PROTEAN_ADMIN_COMMON_TIME_UTIL_H_
