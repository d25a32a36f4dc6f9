#include "server/domain/model.h"

#include <charconv>
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

Resolution Domain::Resolve(std::string_view type_string) const {
  Resolution resolution;
  // "{Camel}.{Event}.v{N}": the version is the text after the last '.', without the 'v'.
  size_t dot = type_string.rfind('.');
  if (dot == std::string_view::npos || dot + 2 > type_string.size() ||
      type_string[dot + 1] != 'v') {
    return resolution;
  }
  std::string_view base = type_string.substr(0, dot);
  std::string_view digits = type_string.substr(dot + 2);
  int version = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (ec != std::errc() || end != digits.data() + digits.size() || version < 1) {
    return resolution;
  }
  const Event* event = nullptr;
  for (const Event& e : events) {
    std::string_view current = e.type_string;
    if (current.substr(0, current.rfind('.')) == base) {
      event = &e;
      break;
    }
  }
  if (event == nullptr || version > event->version) return resolution;
  // Follow the chain from the stored version to the current one.
  std::vector<const Upcaster*> chain;
  for (int v = version; v != event->version;) {
    const Upcaster* step = nullptr;
    for (const Upcaster& u : upcasters) {
      if (u.event == event->name && u.from_version == v) {
        step = &u;
        break;
      }
    }
    if (step == nullptr || chain.size() > upcasters.size()) return resolution;
    chain.push_back(step);
    v = step->to_version;
  }
  resolution.event = event;
  resolution.stored_version = version;
  resolution.chain = std::move(chain);
  return resolution;
}

}  // namespace protean_admin::domain
