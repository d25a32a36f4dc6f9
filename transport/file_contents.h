#ifndef PROTEAN_ADMIN_TRANSPORT_FILE_CONTENTS_H_
#define PROTEAN_ADMIN_TRANSPORT_FILE_CONTENTS_H_

// Reading the files that secure a connection (PEM certificates and keys, token files), with
// errors that name the flag or file they came from and never quote their content. The one
// implementation for the daemon (--tls-cert, --tls-key, --tls-client-ca, --auth-token-file)
// and the CLI (--tls-ca, --tls-cert, --tls-key, --token-file).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace protean_admin::transport {

// The whole content of `path` (possibly empty). `what` names the file in errors:
// "<what>: cannot read <path>: <reason>", NotFound (ENOENT), PermissionDenied (EACCES) or
// Unavailable (any other reason).
absl::StatusOr<std::string> ReadFileContents(const std::string& path, std::string_view what);

// The content of a PEM file: ReadFileContents, then InvalidArgument when `path` is empty
// ("<what>: no file given"), when the file is empty ("<what>: <path> is empty") or holds no
// "-----BEGIN " line ("<what>: <path> is not PEM ...").
absl::StatusOr<std::string> ReadPemFile(const std::string& path, std::string_view what);

}  // namespace protean_admin::transport

#endif  // PROTEAN_ADMIN_TRANSPORT_FILE_CONTENTS_H_
