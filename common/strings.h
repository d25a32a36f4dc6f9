#ifndef PROTEAN_ADMIN_COMMON_STRINGS_H_
#define PROTEAN_ADMIN_COMMON_STRINGS_H_

// absl::StripAsciiWhitespace and absl::StripTrailingAsciiWhitespace for std::string_view: the
// project's one idea of blanks around a value (" \t\n\v\f\r"). The Abseil of Debian 12 is
// built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), which does not
// convert to std::string_view; these adapt it.

#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace protean_admin {

inline std::string_view StripAsciiWhitespace(std::string_view text) {
  absl::string_view stripped =
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  return std::string_view(stripped.data(), stripped.size());
}

inline std::string_view StripTrailingAsciiWhitespace(std::string_view text) {
  absl::string_view stripped =
      absl::StripTrailingAsciiWhitespace(absl::string_view(text.data(), text.size()));
  return std::string_view(stripped.data(), stripped.size());
}

}  // namespace protean_admin

#endif  // PROTEAN_ADMIN_COMMON_STRINGS_H_
