#include "server/domain/model.h"

#include <string_view>

namespace protean_admin::domain {
namespace {

template <typename T>
const T* FindByName(const std::vector<T>& items, std::string_view name) {
  for (const T& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

}  // namespace

const Projection* Domain::FindProjection(std::string_view name) const {
  return FindByName(projections, name);
}
const Aggregate* Domain::FindAggregate(std::string_view name) const {
  return FindByName(aggregates, name);
}
const Event* Domain::FindEvent(std::string_view name) const { return FindByName(events, name); }
const DatabaseConfig* Domain::FindDatabase(std::string_view name) const {
  return FindByName(databases, name);
}
const CacheConfig* Domain::FindCache(std::string_view name) const {
  return FindByName(caches, name);
}

std::vector<const Projector*> Domain::ProjectorsFor(std::string_view projection) const {
  std::vector<const Projector*> out;
  for (const Projector& p : projectors) {
    if (p.projector_for == projection) out.push_back(&p);
  }
  return out;
}

}  // namespace protean_admin::domain
