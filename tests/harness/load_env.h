#ifndef PROTEAN_ADMIN_TESTS_HARNESS_LOAD_ENV_H_
#define PROTEAN_ADMIN_TESTS_HARNESS_LOAD_ENV_H_

// Loader options whose environment is `vars` and nothing else (domain/loader.h getenv), for
// tests of ${VAR} substitution and of the loader.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "domain/loader.h"

namespace protean_admin::testing {

inline domain::LoadOptions EnvOptions(std::map<std::string, std::string> vars = {}) {
  domain::LoadOptions options;
  options.getenv = [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  return options;
}

}  // namespace protean_admin::testing

#endif  // PROTEAN_ADMIN_TESTS_HARNESS_LOAD_ENV_H_
