#include "server/rebuild/action_fold.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace protean_admin::rebuild {
namespace {

struct RowState {
  bool in_db = false;    // a row of this key existed before the fold
  bool present = false;  // a row exists now
  bool fresh = false;    // created during the fold: unassigned columns get defaults
  bool dirty = false;
  std::vector<storage::Cell> cells;
  std::vector<bool> assigned;
};

absl::Status Assign(const ColumnSpec& column, const Datum& value, storage::Cell& cell) {
  if (value.is_null()) {
    cell.reset();
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> coerced = CoerceValue(column, value.text);
  if (!coerced.ok()) return coerced.status();
  cell = std::move(*coerced);
  return absl::OkStatus();
}

// Applies one item to `row`. Errors leave the row untouched (changes are collected first and
// committed only when every value was accepted).
absl::Status ApplyItem(const ActionItem& item, const std::vector<ColumnSpec>& columns,
                       int key_index, const std::string& key, RowState& row) {
  if (item.remove) {
    if (row.present) {
      row.present = false;
      row.dirty = true;
    }
    return absl::OkStatus();
  }
  if (!row.present) {
    if (item.insert.empty() && item.set.empty()) return absl::OkStatus();
    RowState created;
    created.in_db = row.in_db;
    created.present = true;
    created.fresh = true;
    created.dirty = true;
    created.cells.assign(columns.size(), std::nullopt);
    created.assigned.assign(columns.size(), false);
    created.cells[key_index] = key;
    created.assigned[key_index] = true;
    for (const auto* list : {&item.insert, &item.set}) {
      for (const auto& [index, value] : *list) {
        absl::Status s = Assign(columns[index], value, created.cells[index]);
        if (!s.ok()) return s;
        created.assigned[index] = true;
      }
    }
    row = std::move(created);
    return absl::OkStatus();
  }
  std::vector<std::pair<int, storage::Cell>> pending;
  pending.reserve(item.set.size() + item.increment.size());
  for (const auto& [index, value] : item.set) {
    storage::Cell cell;
    absl::Status s = Assign(columns[index], value, cell);
    if (!s.ok()) return s;
    pending.emplace_back(index, std::move(cell));
  }
  for (const auto& [index, value] : item.increment) {
    if (value.is_null()) {
      return absl::InvalidArgumentError(
          absl::StrCat("increment of ", columns[index].name, " by NULL"));
    }
    const storage::Cell* current = &row.cells[index];
    for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
      if (it->first == index) {
        current = &it->second;
        break;
      }
    }
    absl::StatusOr<std::string> sum = IncrementValue(columns[index], *current, value.text);
    if (!sum.ok()) return sum.status();
    pending.emplace_back(index, std::move(*sum));
  }
  for (auto& [index, cell] : pending) {
    row.cells[index] = std::move(cell);
    row.assigned[index] = true;
  }
  if (!pending.empty()) row.dirty = true;
  return absl::OkStatus();
}

}  // namespace

struct RowCache::State {
  absl::flat_hash_map<std::string, std::string> canonical;  // input key text -> canonical
  absl::flat_hash_map<std::string, RowState> rows;          // canonical key -> state
};

RowCache::RowCache(storage::ProjectionStore& store, const std::vector<ColumnSpec>& columns)
    : store_(store), columns_(columns), state_(std::make_unique<State>()) {}
RowCache::~RowCache() = default;

size_t RowCache::size() const { return state_->rows.size(); }

void RowCache::Clear() {
  state_->canonical.clear();
  state_->rows.clear();
  dirty_ = false;
  table_empty_ = false;
}

bool RowCache::KeysAreCanonical(const std::vector<std::string>& keys) const {
  const storage::ColumnInfo& key = store_.table().columns[store_.key_index()];
  if (key.type_name == "text") return true;
  if (key.type_name != "varchar") return false;
  if (key.typmod < 0) return true;
  // varchar(n) has typmod n + 4; n bytes are at most n characters.
  const size_t limit = static_cast<size_t>(key.typmod) - 4;
  for (const std::string& k : keys) {
    if (k.size() > limit) return false;
  }
  return true;
}

absl::StatusOr<std::vector<absl::Status>> RowCache::Apply(
    const std::vector<const ActionItem*>& items) {
  std::vector<absl::Status> statuses(items.size(), absl::OkStatus());
  const int key_index = store_.key_index();
  // 1. Keys not held yet: canonicalised and fetched in one round trip.
  std::vector<std::string> missing;
  absl::flat_hash_map<std::string, int> missing_index;
  for (size_t i = 0; i < items.size(); ++i) {
    const ActionItem& item = *items[i];
    if (!item.eval_status.ok()) {
      statuses[i] = item.eval_status;
      continue;
    }
    if (!item.key) {
      statuses[i] = absl::InvalidArgumentError(
          absl::StrCat("the key (", columns_[key_index].name, ") is NULL"));
      continue;
    }
    if (state_->canonical.contains(*item.key)) continue;
    if (missing_index.emplace(*item.key, static_cast<int>(missing.size())).second) {
      missing.push_back(*item.key);
    }
  }
  if (!missing.empty() && table_empty_ && KeysAreCanonical(missing)) {
    for (const std::string& key : missing) {
      state_->rows.try_emplace(key);  // known absent
      state_->canonical.emplace(key, key);
    }
  } else if (!missing.empty()) {
    absl::StatusOr<storage::FetchResult> fetched = store_.Fetch(missing);
    if (!fetched.ok()) return fetched.status();
    for (storage::StoredRow& stored : fetched->rows) {
      auto [it, inserted] = state_->rows.try_emplace(stored.key);
      if (!inserted) continue;  // held already (another spelling of the key): newer
      RowState& row = it->second;
      row.in_db = true;
      row.present = true;
      row.cells = std::move(stored.cells);
      row.assigned.assign(columns_.size(), true);
    }
    for (size_t i = 0; i < missing.size(); ++i) {
      state_->rows.try_emplace(fetched->canonical[i]);  // absent rows are known too
      state_->canonical.emplace(missing[i], fetched->canonical[i]);
    }
  }
  // 2. Apply in order; a failing item leaves its row as it was.
  for (size_t i = 0; i < items.size(); ++i) {
    if (!statuses[i].ok()) continue;
    const ActionItem& item = *items[i];
    const std::string& key = state_->canonical.at(*item.key);
    RowState& row = state_->rows.at(key);
    absl::Status s = ApplyItem(item, columns_, key_index, key, row);
    if (s.ok()) {
      dirty_ |= row.dirty;
    } else {
      statuses[i] = s;
    }
  }
  return statuses;
}

absl::Status RowCache::Flush() {
  storage::WriteSet writes;
  absl::flat_hash_map<std::vector<bool>, int> group_of;
  const auto& table_columns = store_.table().columns;
  for (auto& [key, row] : state_->rows) {
    if (!row.dirty) continue;
    if (row.in_db) writes.delete_keys.push_back(key);
    if (!row.present) continue;
    std::vector<bool> mask(columns_.size(), true);
    if (row.fresh) mask = row.assigned;
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (table_columns[c].generated) mask[c] = false;
    }
    auto [git, added] = group_of.try_emplace(mask, static_cast<int>(writes.groups.size()));
    if (added) {
      storage::RowGroup group;
      for (size_t c = 0; c < mask.size(); ++c) {
        if (mask[c]) group.columns.push_back(static_cast<int>(c));
      }
      writes.groups.push_back(std::move(group));
    }
    storage::RowGroup& group = writes.groups[git->second];
    std::vector<storage::Cell> values;
    values.reserve(group.columns.size());
    for (int c : group.columns) values.push_back(std::move(row.cells[c]));
    group.rows.push_back(std::move(values));
  }
  Clear();
  if (writes.empty()) return absl::OkStatus();
  return store_.Write(writes);
}

absl::StatusOr<std::vector<absl::Status>> FoldAndWrite(
    storage::ProjectionStore& store, const std::vector<ColumnSpec>& columns,
    const std::vector<const ActionItem*>& items) {
  RowCache cache(store, columns);
  auto statuses = cache.Apply(items);
  if (!statuses.ok()) return statuses.status();
  absl::Status written = cache.Flush();
  if (!written.ok()) return written;
  return statuses;
}

}  // namespace protean_admin::rebuild
