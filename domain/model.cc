#include "domain/model.h"

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

namespace {

// "{base}.v{N}" -> N (>= 1), or 0 when malformed; `base` receives the text before.
int ParseTypeVersion(std::string_view type_string, std::string_view* base) {
  size_t dot = type_string.rfind('.');
  if (dot == std::string_view::npos || dot + 2 > type_string.size() ||
      type_string[dot + 1] != 'v') {
    return 0;
  }
  std::string_view digits = type_string.substr(dot + 2);
  int version = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (ec != std::errc() || end != digits.data() + digits.size() || version < 1) return 0;
  *base = type_string.substr(0, dot);
  return version;
}

}  // namespace

void Domain::BuildTypeIndex() {
  type_index.clear();
  for (size_t e = 0; e < events.size(); ++e) {
    std::string_view current = events[e].type_string;
    std::string_view base;
    if (ParseTypeVersion(current, &base) == 0) continue;
    type_index[std::string(current)] = TypeIndexEntry{e, events[e].version, {}};
    for (const Upcaster& start : upcasters) {
      // Like the scan: a stored version above the current one never resolves.
      if (start.event != events[e].name || start.from_version > events[e].version) continue;
      // Follow the chain from start.from_version to the current version.
      TypeIndexEntry entry{e, start.from_version, {}};
      bool reaches = false;
      for (int v = start.from_version; entry.chain.size() <= upcasters.size();) {
        if (v == events[e].version) {
          reaches = true;
          break;
        }
        size_t step = upcasters.size();
        for (size_t u = 0; u < upcasters.size(); ++u) {
          if (upcasters[u].event == events[e].name && upcasters[u].from_version == v) {
            step = u;
            break;
          }
        }
        if (step == upcasters.size()) break;
        entry.chain.push_back(step);
        v = upcasters[step].to_version;
      }
      if (!reaches || entry.chain.empty()) continue;
      type_index[std::string(base) + ".v" + std::to_string(start.from_version)] = std::move(entry);
    }
  }
}

Resolution Domain::Resolve(std::string_view type_string) const {
  if (!type_index.empty()) {
    auto it = type_index.find(type_string);
    if (it == type_index.end()) {
      // Same meaning as the scan for spellings such as "v02": canonicalise and retry.
      std::string_view base;
      int version = ParseTypeVersion(type_string, &base);
      if (version == 0) return Resolution();
      std::string canonical = std::string(base) + ".v" + std::to_string(version);
      if (canonical == type_string) return Resolution();
      it = type_index.find(canonical);
      if (it == type_index.end()) return Resolution();
    }
    Resolution resolution;
    resolution.event = &events[it->second.event];
    resolution.stored_version = it->second.stored_version;
    for (size_t u : it->second.chain) resolution.chain.push_back(&upcasters[u]);
    return resolution;
  }
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
