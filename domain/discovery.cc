#include "domain/discovery.h"

#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace protean_admin::domain {
namespace fs = std::filesystem;
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

// "a.b.c" with Python identifiers only.
bool IsDottedModulePath(std::string_view s) {
  if (s.empty()) return false;
  bool segment_start = true;
  for (char c : s) {
    if (c == '.') {
      if (segment_start) return false;
      segment_start = true;
    } else if (segment_start ? IsIdentStart(c) : IsIdentChar(c)) {
      segment_start = false;
    } else {
      return false;
    }
  }
  return !segment_start;
}

// Whether `path` (canonical or weakly canonical) lies inside `root` (canonical).
bool IsInside(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // trailing separator
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

std::string Display(const fs::path& path, const fs::path& root) {
  fs::path relative = path.lexically_relative(root);
  if (relative.empty()) return path.string();
  return relative.string();
}

// Checks that a candidate stays in `root`, following symlinks; returns its canonical form, or
// nullopt when it does not exist.
absl::StatusOr<std::optional<fs::path>> Confine(const fs::path& candidate, const fs::path& root) {
  fs::path full = candidate.is_absolute() ? candidate : root / candidate;
  std::error_code e;
  fs::path weak = fs::weakly_canonical(full, e);  // follows the symlinks that exist
  if (e) weak = full.lexically_normal();
  if (!IsInside(weak, root)) {
    if (IsInside(full.lexically_normal(), root)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "domain path '", candidate.string(), "' leaves the domain root through a symbolic link"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("domain path '", candidate.string(), "' is outside the domain root"));
  }
  if (!fs::exists(weak, e)) return std::optional<fs::path>();
  return std::optional<fs::path>(weak);
}

// `file` as the resolved domain file, when it is a regular file.
absl::StatusOr<ResolvedDomainFile> FoundFile(const fs::path& file, const fs::path& root,
                                             const std::string& instance) {
  std::error_code e;
  if (!fs::is_regular_file(file, e)) {
    return absl::NotFoundError(absl::StrCat("'", Display(file, root), "' is not a file"));
  }
  return ResolvedDomainFile{file, Display(file, root), instance};
}

// A dotted module path (a.b.c): a/b/c.toml, else a/b/c/domain.toml, inside `root`.
absl::StatusOr<ResolvedDomainFile> ResolveModulePath(const DomainSpec& spec, const fs::path& root) {
  std::string module_dir = spec.path;
  for (char& c : module_dir) {
    if (c == '.') c = '/';
  }
  std::vector<fs::path> candidates = {fs::path(module_dir + ".toml"),
                                      fs::path(module_dir) / "domain.toml"};
  for (const fs::path& path : candidates) {
    absl::StatusOr<std::optional<fs::path>> candidate = Confine(path, root);
    if (!candidate.ok()) return candidate.status();
    if (candidate->has_value()) return FoundFile(**candidate, root, spec.instance);
  }
  return absl::NotFoundError(absl::StrCat("no domain file for module path '", spec.path,
                                          "' (looked for ", candidates[0].string(), " and ",
                                          candidates[1].string(), ")"));
}

}  // namespace

DomainSpec SplitDomainSpec(std::string_view spec) {
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] != ':') continue;
    if (i + 1 < spec.size() && (spec[i + 1] == '/' || spec[i + 1] == '\\')) continue;
    return DomainSpec{std::string(spec.substr(0, i)), std::string(spec.substr(i + 1)), true};
  }
  return DomainSpec{std::string(spec), ""};
}

absl::StatusOr<ResolvedDomainFile> ResolveDomainFile(std::string_view spec_text,
                                                     std::string_view domain_root) {
  DomainSpec spec = SplitDomainSpec(spec_text);
  if (spec.separated && spec.instance.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty domain instance in '", std::string(spec_text), "'"));
  }
  if (spec.path.empty()) spec.path.push_back('.');  // (= "." trips GCC 12 -Wrestrict at -O3)
  if (spec.path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("domain path contains a NUL character");
  }
  std::error_code ec;
  fs::path root = fs::canonical(fs::path(std::string(domain_root)), ec);
  if (ec) {
    return absl::NotFoundError(absl::StrCat("domain root '", std::string(domain_root),
                                            "' is not accessible: ", ec.message()));
  }

  fs::path given(spec.path);
  absl::StatusOr<std::optional<fs::path>> direct = Confine(given, root);
  if (!direct.ok()) return direct.status();
  std::error_code e;
  if (direct->has_value() && fs::is_directory(**direct, e)) {
    for (const char* name : {".domain.toml", "domain.toml"}) {
      absl::StatusOr<std::optional<fs::path>> candidate = Confine(given / name, root);
      if (!candidate.ok()) return candidate.status();
      if (candidate->has_value()) return FoundFile(**candidate, root, spec.instance);
    }
    return absl::NotFoundError(
        absl::StrCat("no .domain.toml or domain.toml in directory '", spec.path, "'"));
  }
  if (direct->has_value()) return FoundFile(**direct, root, spec.instance);
  bool toml_file = spec.path.size() > 5 && spec.path.compare(spec.path.size() - 5, 5, ".toml") == 0;
  if (!toml_file && IsDottedModulePath(spec.path)) return ResolveModulePath(spec, root);
  return absl::NotFoundError(absl::StrCat("'", spec.path, "' does not exist"));
}

std::string EffectiveDomainSpec(std::string_view flag_value, const GetEnvFunction& getenv) {
  std::optional<std::string> env =
      getenv ? getenv("PROTEAN_DOMAIN") : ProcessGetEnv("PROTEAN_DOMAIN");
  if (env.has_value() && !env->empty()) return *env;
  if (flag_value.empty()) return ".";
  return std::string(flag_value);
}

}  // namespace protean_admin::domain
