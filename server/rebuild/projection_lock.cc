#include "server/rebuild/projection_lock.h"

#include "absl/strings/str_cat.h"
#include "storage/advisory_lock.h"

namespace protean_admin::rebuild {

absl::StatusOr<std::string> ProjectionLockText(storage::PgConnection& writer,
                                               const domain::Domain& domain,
                                               const domain::Projection& projection,
                                               std::string_view schema) {
  if (!projection.cache_backed()) {
    return storage::TableLockText(writer, schema, projection.table);
  }
  const domain::CacheConfig* cache = domain.FindCache(*projection.cache);
  if (cache == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("Projection '", projection.name, "': cache '",
                                                      *projection.cache, "' is not configured"));
  }
  absl::StatusOr<std::string> text = storage::CacheLockText(cache->uri, projection.cache_prefix);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("Projection '", projection.name,
                                                           "': ", text.status().message()));
  }
  return text;
}

}  // namespace protean_admin::rebuild
