#ifndef PROTEAN_ADMIN_TESTS_HARNESS_PORTS_H_
#define PROTEAN_ADMIN_TESTS_HARNESS_PORTS_H_

// TCP ports on 127.0.0.1 for tests that start servers of their own.

namespace protean_admin::testing {

// A port that nothing listened on a moment ago.
int FreePort();

// True when something accepts TCP connections on 127.0.0.1:`port`.
bool PortAccepts(int port);

}  // namespace protean_admin::testing

#endif  // PROTEAN_ADMIN_TESTS_HARNESS_PORTS_H_
