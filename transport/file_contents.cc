#include "transport/file_contents.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace protean_admin::transport {

absl::StatusOr<std::string> ReadFileContents(const std::string& path, std::string_view what) {
  const std::string flag(what);  // this Abseil's StrCat takes no std::string_view
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::string message = absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path, std::string_view what) {
  const std::string flag(what);
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": no file given"));
  absl::StatusOr<std::string> content = ReadFileContents(path, what);
  if (!content.ok()) return content.status();
  if (content->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is empty"));
  }
  if (content->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " is not PEM (no -----BEGIN line)"));
  }
  return content;
}

}  // namespace protean_admin::transport
