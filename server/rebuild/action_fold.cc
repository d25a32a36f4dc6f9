#include "server/rebuild/action_fold.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "server/rebuild/action_values.h"

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
  absl::StatusOr<std::string> coerced;
  if (column.shape == ValueShape::kScalar) {
    coerced = CoerceValue(column, value.text);  // the hot path: no intermediate text
  } else {
    ASSIGN_OR_RETURN(std::string text, ActionValueText(column, value));
    coerced = CoerceValue(column, text);
  }
  if (!coerced.ok()) return coerced.status();
  cell = std::move(*coerced);
  return absl::OkStatus();
}

// A row created by `item` (insert and set values) for an absent key.
absl::Status CreateRow(const ActionItem& item, const std::vector<ColumnSpec>& columns,
                       int key_index, absl::string_view key, RowState& row) {
  RowState created;
  created.in_db = row.in_db;
  created.present = true;
  created.fresh = true;
  created.dirty = true;
  created.cells.assign(columns.size(), std::nullopt);
  created.assigned.assign(columns.size(), false);
  created.cells[key_index] = std::string(key);
  created.assigned[key_index] = true;
  for (const auto* list : {&item.insert, &item.set}) {
    for (const auto& [index, value] : *list) {
      RETURN_IF_ERROR(Assign(columns[index], value, created.cells[index]));
      created.assigned[index] = true;
    }
  }
  row = std::move(created);
  return absl::OkStatus();
}

// The changes of one item to a present row, collected before any is committed.
struct PendingChanges {
  absl::InlinedVector<std::pair<int, storage::Cell>, 4> cells;
  absl::InlinedVector<std::pair<int, double>, 2> sums;  // after `cells`
};

// Adds a float8 increment to the column's current value: this item's latest, else the row's.
absl::Status AddToSum(const ColumnSpec& column, int index, const Datum& value, bool subtract,
                      const RowState& row, PendingChanges& pending) {
  std::optional<double> base;
  for (auto it = pending.sums.rbegin(); it != pending.sums.rend() && !base; ++it) {
    if (it->first == index) base = it->second;
  }
  const storage::Cell* text = &row.cells[index];
  for (auto it = pending.cells.rbegin(); it != pending.cells.rend() && !base; ++it) {
    if (it->first == index) {
      text = &it->second;
      break;
    }
  }
  if (!base && text == &row.cells[index] && row.Sum(index) != nullptr) base = *row.Sum(index);
  if (!base) {
    base = 0;
    if (*text) {
      ASSIGN_OR_RETURN(base, ParseFloat8(column, **text));
    }
  }
  ASSIGN_OR_RETURN(double sum, AddFloat8(column, *base, value.text, subtract));
  pending.sums.emplace_back(index, sum);
  return absl::OkStatus();
}

absl::Status AddIncrement(const ColumnSpec& column, int index, const Datum& value, bool subtract,
                          const RowState& row, PendingChanges& pending) {
  if (value.is_null()) {
    return absl::InvalidArgumentError(absl::StrCat("increment of ", column.name, " by NULL"));
  }
  if (column.kind == ColumnKind::kFloat8) {
    return AddToSum(column, index, value, subtract, row, pending);
  }
  const storage::Cell* current = &row.cells[index];
  for (auto it = pending.cells.rbegin(); it != pending.cells.rend(); ++it) {
    if (it->first == index) {
      current = &it->second;
      break;
    }
  }
  ASSIGN_OR_RETURN(std::string sum, IncrementValue(column, *current, value.text, subtract));
  pending.cells.emplace_back(index, std::move(sum));
  return absl::OkStatus();
}

// Set, then update values assigned, then increments added to a present row; all or nothing.
absl::Status ChangeRow(const ActionItem& item, const std::vector<ColumnSpec>& columns,
                       RowState& row) {
  PendingChanges pending;
  for (const auto* list : {&item.set, &item.update}) {
    for (const auto& [index, value] : *list) {
      storage::Cell cell;
      RETURN_IF_ERROR(Assign(columns[index], value, cell));
      pending.cells.emplace_back(index, std::move(cell));
    }
  }
  for (size_t i = 0; i < item.increment.size(); ++i) {
    const auto& [index, value] = item.increment[i];
    const bool subtract = i < item.increment_subtract.size() && item.increment_subtract[i];
    RETURN_IF_ERROR(AddIncrement(columns[index], index, value, subtract, row, pending));
  }
  for (auto& [index, cell] : pending.cells) {
    row.cells[index] = std::move(cell);
    row.DropSum(index);
    row.assigned[index] = true;
  }
  for (const auto& [index, sum] : pending.sums) {
    row.SetSum(index, sum);
    row.assigned[index] = true;
  }
  if (!pending.cells.empty() || !pending.sums.empty()) row.dirty = true;
  return absl::OkStatus();
}

// Applies one item to `row`. Errors leave the row untouched (changes are collected first and
// committed only when every value was accepted). `key_refused` tells why the key column cannot
// hold `key` (a row of it can never exist), or OK; asked only to create a row.
absl::Status ApplyItem(const ActionItem& item, const std::vector<ColumnSpec>& columns,
                       int key_index, absl::string_view key,
                       absl::FunctionRef<absl::Status()> key_refused, RowState& row) {
  if (item.remove) {
    if (row.present) {
      row.present = false;
      row.dirty = true;
    }
    return absl::OkStatus();
  }
  if (row.present) return ChangeRow(item, columns, row);
  // Absent: only insert and set create a row; update and increment need one.
  if (item.insert.empty() && item.set.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(key_refused());
  return CreateRow(item, columns, key_index, key, row);
}

}  // namespace

// The cache's rows, packed: each row is one record in a block arena (its key, then its
// encoded state: see Store), found through a hash set of row ids. About 30 bytes of
// bookkeeping per row plus its key and values, instead of a hash node, a vector and a
// string per cell. Row ids are stable until Clear.
struct RowCache::State {
  State(size_t column_count, int key_index)
      : column_count(column_count), key_index(key_index), ids(0, KeyHash{this}, KeyEq{this}) {}

  struct Slot {
    uint32_t block;
    uint32_t offset;
    uint32_t key_size;
    uint32_t size;      // of the encoded state, after the key
    uint32_t capacity;  // bytes available for the encoded state at this place
  };
  struct KeyHash {
    using is_transparent = void;
    const State* state;
    size_t operator()(uint32_t id) const { return (*this)(state->Key(id)); }
    size_t operator()(absl::string_view key) const { return absl::Hash<absl::string_view>{}(key); }
  };
  struct KeyEq {
    using is_transparent = void;
    const State* state;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t a, absl::string_view b) const { return state->Key(a) == b; }
    bool operator()(absl::string_view a, uint32_t b) const { return a == state->Key(b); }
  };

  static constexpr size_t kBlockSize = size_t{1} << 20;
  // State flags, then per column one tag and its value.
  static constexpr uint8_t kInDb = 1, kPresent = 2, kFresh = 4, kDirty = 8;
  static constexpr uint8_t kHasValue = 1, kAssigned = 2, kIsSum = 4, kIsKey = 8;

  const size_t column_count;
  const int key_index;
  std::vector<std::unique_ptr<char[]>> blocks;
  size_t block_bytes = 0;  // allocated in `blocks`
  size_t block_used = 0;   // of the last block
  size_t last_block_size = 0;
  std::deque<Slot> slots;
  absl::flat_hash_set<uint32_t, KeyHash, KeyEq> ids;
  // Input key text -> canonical, only where they differ (" 7" for an integer key "7").
  absl::flat_hash_map<std::string, std::string> aliases;
  size_t alias_bytes = 0;
  std::string scratch;      // Store's encoding buffer
  size_t typical_size = 1;  // of the last row stored present
  RowState row;             // Get's and ApplyChanges' row

  const char* Record(const Slot& slot) const { return blocks[slot.block].get() + slot.offset; }
  absl::string_view Key(uint32_t id) const {
    const Slot& slot = slots[id];
    return absl::string_view(Record(slot), slot.key_size);
  }

  std::optional<uint32_t> Find(absl::string_view key) const {
    auto it = ids.find(key);
    if (it != ids.end()) return *it;
    auto alias = aliases.find(key);
    if (alias == aliases.end()) return std::nullopt;
    it = ids.find(absl::string_view(alias->second));
    if (it == ids.end()) return std::nullopt;
    return *it;
  }

  // A row of `key`, created known absent (not in the table) unless held already.
  std::pair<uint32_t, bool> Emplace(absl::string_view key) {
    auto it = ids.find(key);
    if (it != ids.end()) return {*it, false};
    const uint32_t id = static_cast<uint32_t>(slots.size());
    const char flags = 0;
    // Room for the row it most likely becomes: a row's size is usually its predecessor's.
    slots.push_back(Place(key, absl::string_view(&flags, 1), typical_size));
    ids.insert(id);
    return {id, true};
  }

  void AddAlias(const std::string& input, const std::string& canonical) {
    if (aliases.emplace(input, canonical).second)
      alias_bytes += input.size() + canonical.size() + 80;
  }

  // Copies key and state into the arena, with room for a state of `capacity` bytes.
  Slot Place(absl::string_view key, absl::string_view state, size_t capacity = 0) {
    capacity = std::max(capacity, state.size());
    const size_t need = key.size() + capacity;
    if (blocks.empty() || block_used + need > last_block_size) {
      last_block_size = std::max(kBlockSize, need);
      blocks.push_back(std::make_unique<char[]>(last_block_size));
      block_bytes += last_block_size;
      block_used = 0;
    }
    char* at = blocks.back().get() + block_used;
    memcpy(at, key.data(), key.size());
    memcpy(at + key.size(), state.data(), state.size());
    Slot slot{static_cast<uint32_t>(blocks.size() - 1), static_cast<uint32_t>(block_used),
              static_cast<uint32_t>(key.size()), static_cast<uint32_t>(state.size()),
              static_cast<uint32_t>(capacity)};
    block_used += need;
    return slot;
  }

  uint8_t Flags(uint32_t id) const {
    const Slot& slot = slots[id];
    return static_cast<uint8_t>(Record(slot)[slot.key_size]);
  }

  void Load(uint32_t id, RowState& row) const {
    const Slot& slot = slots[id];
    const char* p = Record(slot) + slot.key_size;
    const uint8_t flags = static_cast<uint8_t>(*p++);
    row.in_db = flags & kInDb;
    row.present = flags & kPresent;
    row.fresh = flags & kFresh;
    row.dirty = flags & kDirty;
    row.sums.clear();
    if (!row.present) return;  // an absent row's cells are never read
    row.cells.resize(column_count);
    row.assigned.assign(column_count, false);
    for (size_t c = 0; c < column_count; ++c) {
      const uint8_t tag = static_cast<uint8_t>(*p++);
      row.assigned[c] = tag & kAssigned;
      storage::Cell& cell = row.cells[c];
      if (!(tag & kHasValue)) {
        cell.reset();
        continue;
      }
      if (!cell) cell.emplace();
      if (tag & kIsKey) {
        cell->assign(Record(slot), slot.key_size);
      } else if (tag & kIsSum) {
        double sum;
        memcpy(&sum, p, sizeof sum);
        p += sizeof sum;
        row.sums.emplace_back(static_cast<int>(c), sum);
      } else {
        size_t size = 0;
        for (int shift = 0;; shift += 7) {
          const uint8_t byte = static_cast<uint8_t>(*p++);
          size |= static_cast<size_t>(byte & 0x7f) << shift;
          if (!(byte & 0x80)) break;
        }
        cell->assign(p, size);
        p += size;
      }
    }
  }

  void Store(uint32_t id, const RowState& row) {
    std::string& out = scratch;
    out.clear();
    out.push_back(static_cast<char>((row.in_db ? kInDb : 0) | (row.present ? kPresent : 0) |
                                    (row.fresh ? kFresh : 0) | (row.dirty ? kDirty : 0)));
    if (row.present) {
      const absl::string_view key = Key(id);
      for (size_t c = 0; c < column_count; ++c) {
        uint8_t tag = row.assigned[c] ? kAssigned : 0;
        const double* sum = row.Sum(static_cast<int>(c));
        const storage::Cell& cell = row.cells[c];
        if (sum != nullptr) {
          out.push_back(static_cast<char>(tag | kHasValue | kIsSum));
          out.append(reinterpret_cast<const char*>(sum), sizeof *sum);
        } else if (!cell) {
          out.push_back(static_cast<char>(tag));
        } else if (static_cast<int>(c) == key_index && absl::string_view(*cell) == key) {
          out.push_back(static_cast<char>(tag | kHasValue | kIsKey));
        } else {
          out.push_back(static_cast<char>(tag | kHasValue));
          size_t size = cell->size();
          do {
            out.push_back(static_cast<char>((size & 0x7f) | (size > 0x7f ? 0x80 : 0)));
            size >>= 7;
          } while (size != 0);
          out.append(*cell);
        }
      }
    }
    if (row.present) typical_size = out.size();
    Slot& slot = slots[id];
    if (out.size() <= slot.capacity) {
      memcpy(blocks[slot.block].get() + slot.offset + slot.key_size, out.data(), out.size());
      slot.size = static_cast<uint32_t>(out.size());
      return;
    }
    // Grown: placed anew (the old place is not reused before Clear).
    slot = Place(Key(id), out);
  }

  size_t memory_bytes() const {
    return block_bytes + slots.size() * sizeof(Slot) + ids.capacity() * (sizeof(uint32_t) + 1) +
           alias_bytes + scratch.capacity();
  }

  void Clear() {
    ids.clear();
    std::deque<Slot>().swap(slots);
    aliases.clear();
    alias_bytes = 0;
    blocks.clear();
    block_bytes = block_used = last_block_size = 0;
  }
};

RowCache::RowCache(storage::ProjectionStore& store, const std::vector<ColumnSpec>& columns)
    : store_(store),
      columns_(columns),
      state_(std::make_unique<State>(columns.size(), store.key_index())) {}
RowCache::~RowCache() = default;

size_t RowCache::size() const { return state_->slots.size(); }

size_t RowCache::memory_bytes() const { return state_->memory_bytes(); }

void RowCache::Clear() {
  state_->Clear();
  last_get_id_.reset();
  dirty_ = false;
  table_empty_ = false;
}

absl::Status RowCache::KeyRefused(absl::string_view key) const {
  // varchar(n) and char(n) refuse more than n characters on INSERT (beyond trailing spaces),
  // where an explicit cast, such as the one canonicalising fetched keys, would truncate.
  const storage::ColumnInfo& column = store_.table().columns[store_.key_index()];
  if ((column.type_name != "varchar" && column.type_name != "bpchar") || column.typmod < 4) {
    return absl::OkStatus();
  }
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  int64_t characters = 0;
  for (char c : key) characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (characters <= column.typmod - 4) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("value too long for type ", column.type_sql));
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

absl::Status RowCache::FetchMissing(const std::vector<std::string>& missing) {
  if (missing.empty()) return absl::OkStatus();
  if (table_empty_ && KeysAreCanonical(missing)) {
    for (const std::string& key : missing) state_->Emplace(key);  // known absent
  } else {
    absl::StatusOr<storage::FetchResult> fetched = store_.Fetch(missing);
    RETURN_IF_ERROR(fetched.status());
    RowState row;
    for (storage::StoredRow& stored : fetched->rows) {
      auto [id, inserted] = state_->Emplace(stored.key);
      if (!inserted) continue;  // held already (another spelling of the key): newer
      row.in_db = true;
      row.present = true;
      row.cells = std::move(stored.cells);
      row.assigned.assign(columns_.size(), true);
      state_->Store(id, row);
    }
    for (size_t i = 0; i < missing.size(); ++i) {
      state_->Emplace(fetched->canonical[i]);  // absent rows are known too
      if (missing[i] != fetched->canonical[i]) {
        state_->AddAlias(missing[i], fetched->canonical[i]);
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> RowCache::Hold(absl::string_view key) {
  if (std::optional<uint32_t> id = state_->Find(key)) return *id;
  if (!KeyRefused(key).ok()) return state_->Emplace(key).first;  // no row can have it
  RETURN_IF_ERROR(FetchMissing({std::string(key)}));
  return *state_->Find(key);
}

absl::StatusOr<bool> RowCache::Get(std::string_view key, std::vector<storage::Cell>& cells) {
  ASSIGN_OR_RETURN(const uint32_t id, Hold(absl::string_view(key.data(), key.size())));
  last_get_key_.assign(key.data(), key.size());
  last_get_id_ = id;
  if (!(state_->Flags(id) & State::kPresent)) return false;
  RowState& row = state_->row;
  state_->Load(id, row);
  row.Settle();
  cells.swap(row.cells);
  return true;
}

absl::Status RowCache::ApplyChanges(const std::vector<LuaRowChange>& changes) {
  // Every row held first: a failing fetch changes none.
  absl::InlinedVector<uint32_t, 4> ids;
  for (const LuaRowChange& change : changes) {
    if (last_get_id_ && change.key == last_get_key_) {
      ids.push_back(*last_get_id_);
      continue;
    }
    ASSIGN_OR_RETURN(const uint32_t id, Hold(change.key));
    ids.push_back(id);
  }
  const int key_index = store_.key_index();
  RowState& row = state_->row;
  for (size_t i = 0; i < changes.size(); ++i) {
    const LuaRowChange& change = changes[i];
    state_->Load(ids[i], row);
    if (!change.present) {
      if (!row.present) continue;
      row.present = false;
    } else if (change.fresh || !row.present) {
      row.present = true;
      row.fresh = true;
      row.sums.clear();
      row.cells = change.cells;
      row.assigned.assign(change.assigned.begin(), change.assigned.end());
      row.cells[key_index] = std::string(state_->Key(ids[i]));
      row.assigned[key_index] = true;
    } else {
      for (size_t c = 0; c < change.assigned.size(); ++c) {
        if (!change.assigned[c]) continue;
        row.cells[c] = change.cells[c];
        row.DropSum(static_cast<int>(c));
        row.assigned[c] = true;
      }
    }
    row.dirty = true;
    dirty_ = true;
    state_->Store(ids[i], row);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<absl::Status>> RowCache::Apply(
    const std::vector<const ActionItem*>& items) {
  constexpr uint32_t kNone = ~uint32_t{0};
  std::vector<absl::Status> statuses(items.size(), absl::OkStatus());
  std::vector<uint32_t> targets(items.size(), kNone);
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
    if (std::optional<uint32_t> id = state_->Find(*item.key)) {
      targets[i] = *id;
      continue;
    }
    if (!KeyRefused(*item.key).ok()) {
      state_->Emplace(*item.key);  // no row can have it: known absent, never fetched
    } else if (missing_index.emplace(*item.key, static_cast<int>(missing.size())).second) {
      missing.push_back(*item.key);
    }
  }
  RETURN_IF_ERROR(FetchMissing(missing));
  // 2. Apply in order; a failing item leaves its row as it was.
  RowState row;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!statuses[i].ok()) continue;
    const ActionItem& item = *items[i];
    const uint32_t id = targets[i] != kNone ? targets[i] : *state_->Find(*item.key);
    state_->Load(id, row);
    const absl::string_view key = state_->Key(id);
    absl::Status s = ApplyItem(
        item, columns_, key_index, key, [&] { return KeyRefused(key); }, row);
    if (s.ok()) {
      state_->Store(id, row);
      dirty_ |= row.dirty;
    } else {
      statuses[i] = s;
    }
  }
  return statuses;
}

absl::Status RowCache::Flush() {
  // Written in chunks, so a flush holds little besides the rows themselves.
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
  RowState row;
  for (uint32_t id = 0; id < state_->slots.size(); ++id) {
    if (!(state_->Flags(id) & State::kDirty)) continue;
    state_->Load(id, row);
    row.Settle();
    if (row.in_db) writes.delete_keys.emplace_back(state_->Key(id));
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
