#include "domain/env_substitution.h"

#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"

namespace protean_admin::domain {

std::optional<std::string> ProcessGetEnv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<std::string> SubstituteEnv(std::string_view text, const GetEnvFunction& getenv,
                                          bool* substituted, std::vector<std::string>* defaulted) {
  if (substituted != nullptr) *substituted = false;
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("${", i);
    if (open == std::string_view::npos) break;
    size_t close = text.find('}', open + 2);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    std::string_view inner = text.substr(open + 2, close - open - 2);
    size_t bar = inner.find('|');
    std::string_view name = StripAsciiWhitespace(inner.substr(0, bar));
    std::optional<std::string> value = getenv ? getenv(name) : ProcessGetEnv(name);
    if (value.has_value()) {
      out.append(*value);
    } else if (bar != std::string_view::npos) {
      out.append(inner.substr(bar + 1));
      if (defaulted != nullptr) defaulted->emplace_back(name);
    } else {
      return absl::FailedPreconditionError(
          absl::StrCat("Environment variable ", std::string(name), " is not set"));
    }
    if (substituted != nullptr) *substituted = true;
    i = close + 1;
  }
  out.append(text.substr(i));
  return out;
}

std::string DefaultedValueNote(std::string_view where, const std::vector<std::string>& unset) {
  if (unset.empty()) return "";
  return absl::StrCat("from the default in ", std::string(where), "; ", absl::StrJoin(unset, ", "),
                      unset.size() == 1 ? " is" : " are",
                      " not set in protean-admind's environment");
}

absl::Status WithUriNote(const absl::Status& status, std::string_view note) {
  if (status.ok() || note.empty()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), " (the URI is ", std::string(note), ")"));
}

}  // namespace protean_admin::domain
