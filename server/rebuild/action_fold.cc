#include "server/rebuild/action_fold.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"

namespace protean_admin::rebuild {
namespace {

struct RowState {
  bool in_db = false;    // a row of this key existed before the fold
  bool present = false;  // a row exists now
  bool fresh = false;    // created during the fold: unassigned columns get defaults
  bool dirty = false;
  std::vector<storage::Cell> cells;
  absl::InlinedVector<bool, 16> assigned;  // inline: no allocation, no cache miss
  // Running sums of float8 columns being incremented, authoritative over cells[column] (which
  // is formatted from the sum when the row is written): no parse and format per event.
  absl::InlinedVector<std::pair<int, double>, 1> sums;

  const double* Sum(int column) const {
    for (const auto& [c, v] : sums) {
      if (c == column) return &v;
    }
    return nullptr;
  }
  void SetSum(int column, double value) {
    for (auto& [c, v] : sums) {
      if (c == column) {
        v = value;
        return;
      }
    }
    sums.emplace_back(column, value);
  }
  void DropSum(int column) {
    for (size_t i = 0; i < sums.size(); ++i) {
      if (sums[i].first == column) {
        sums.erase(sums.begin() + i);
        return;
      }
    }
  }
  // Formats the sums into their cells.
  void Settle() {
    for (const auto& [c, v] : sums) cells[c] = FormatFloat8(v);
    sums.clear();
  }
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
  absl::InlinedVector<std::pair<int, storage::Cell>, 4> pending;
  absl::InlinedVector<std::pair<int, double>, 2> pending_sums;  // after `pending`
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
    if (columns[index].kind == ColumnKind::kFloat8) {
      // The current value: this item's latest, else the row's.
      std::optional<double> base;
      for (auto it = pending_sums.rbegin(); it != pending_sums.rend() && !base; ++it) {
        if (it->first == index) base = it->second;
      }
      const storage::Cell* text = &row.cells[index];
      for (auto it = pending.rbegin(); it != pending.rend() && !base; ++it) {
        if (it->first == index) {
          text = &it->second;
          break;
        }
      }
      if (!base && text == &row.cells[index] && row.Sum(index) != nullptr) base = *row.Sum(index);
      if (!base) {
        base = 0;
        if (*text) {
          absl::StatusOr<double> parsed = ParseFloat8(columns[index], **text);
          if (!parsed.ok()) return parsed.status();
          base = *parsed;
        }
      }
      absl::StatusOr<double> sum = AddFloat8(columns[index], *base, value.text);
      if (!sum.ok()) return sum.status();
      pending_sums.emplace_back(index, *sum);
      continue;
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
    row.DropSum(index);
    row.assigned[index] = true;
  }
  for (const auto& [index, sum] : pending_sums) {
    row.SetSum(index, sum);
    row.assigned[index] = true;
  }
  if (!pending.empty() || !pending_sums.empty()) row.dirty = true;
  return absl::OkStatus();
}

}  // namespace

struct RowCache::State {
  // Canonical key -> state (absent rows are known too). Node-based: references stay valid
  // while keys are added.
  absl::node_hash_map<std::string, RowState> rows;
  // Input key text -> canonical, only where they differ (" 7" for an integer key "7").
  absl::flat_hash_map<std::string, std::string> aliases;

  using Entry = std::pair<const std::string, RowState>;  // canonical key and its state

  Entry* Find(const std::string& key) {
    auto it = rows.find(key);
    if (it != rows.end()) return &*it;
    auto alias = aliases.find(key);
    if (alias == aliases.end()) return nullptr;
    it = rows.find(alias->second);
    return it == rows.end() ? nullptr : &*it;
  }
};

RowCache::RowCache(storage::ProjectionStore& store, const std::vector<ColumnSpec>& columns)
    : store_(store), columns_(columns), state_(std::make_unique<State>()) {}
RowCache::~RowCache() = default;

size_t RowCache::size() const { return state_->rows.size(); }

void RowCache::Clear() {
  state_->rows.clear();
  state_->aliases.clear();
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
  std::vector<State::Entry*> targets(items.size(), nullptr);
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
    targets[i] = state_->Find(*item.key);
    if (targets[i] != nullptr) continue;
    if (missing_index.emplace(*item.key, static_cast<int>(missing.size())).second) {
      missing.push_back(*item.key);
    }
  }
  if (!missing.empty() && table_empty_ && KeysAreCanonical(missing)) {
    for (const std::string& key : missing) state_->rows.try_emplace(key);  // known absent
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
      if (missing[i] != fetched->canonical[i]) {
        state_->aliases.emplace(missing[i], fetched->canonical[i]);
      }
    }
  }
  // 2. Apply in order; a failing item leaves its row as it was.
  for (size_t i = 0; i < items.size(); ++i) {
    if (!statuses[i].ok()) continue;
    const ActionItem& item = *items[i];
    State::Entry* entry = targets[i] != nullptr ? targets[i] : state_->Find(*item.key);
    RowState& row = entry->second;
    absl::Status s = ApplyItem(item, columns_, key_index, entry->first, row);
    if (s.ok()) {
      dirty_ |= row.dirty;
    } else {
      statuses[i] = s;
    }
  }
  return statuses;
}

absl::Status RowCache::Flush() {
  // Written in chunks: the rows' cells are moved into a chunk, so a flush holds little
  // besides the rows themselves (a whole-cache WriteSet and COPY text would about double
  // the cache's memory at its peak).
  constexpr size_t kChunkRows = 4096;
  storage::WriteSet writes;
  size_t chunk_rows = 0;
  absl::flat_hash_map<std::vector<bool>, int> group_of;
  auto write = [&]() -> absl::Status {
    if (writes.empty()) return absl::OkStatus();
    absl::Status s = store_.Write(writes);
    writes = storage::WriteSet();
    group_of.clear();
    chunk_rows = 0;
    return s;
  };
  const auto& table_columns = store_.table().columns;
  for (auto& [key, row] : state_->rows) {
    if (!row.dirty) continue;
    row.Settle();
    if (row.in_db) writes.delete_keys.push_back(key);
    if (row.present) {
      std::vector<bool> mask(columns_.size(), true);
      if (row.fresh) mask.assign(row.assigned.begin(), row.assigned.end());
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
    if (++chunk_rows == kChunkRows) {
      absl::Status s = write();
      if (!s.ok()) {
        Clear();
        return s;
      }
    }
  }
  Clear();
  return write();
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
