#ifndef PROTEAN_ADMIN_SERVER_REBUILD_ACTION_FOLD_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_ACTION_FOLD_H_

// The action form's fast path (docs/design.md §5, docs/domain-toml.md "Action form"): many
// action events (and Lua-form calls) folded per key in memory, then written once. The result
// equals applying them one by one, in order:
//  - row absent: with `insert` or `set`, a row is created (key, insert values, set values);
//    `update` and `increment` do nothing;
//  - row present: set values assigned, then update values assigned, then increment values
//    added (NULL counts as 0; a negated increment subtracts);
//  - delete: the row is removed.
// Values become column text as action_values.h says (json, jsonb, arrays).
// An event whose action fails in memory (NULL key, a value the column type refuses) is
// failed without touching the state.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/rebuild/column_ops.h"
#include "server/rebuild/event_payload.h"
#include "server/rebuild/lua_runtime.h"
#include "storage/projection_store.h"

namespace protean_admin::rebuild {

// One action event, its values already read from the payload.
struct ActionItem {
  absl::Status eval_status;  // not OK: reading the payload failed; the item fails
  std::optional<std::string> key;
  std::vector<std::pair<int, Datum>> set;
  std::vector<std::pair<int, Datum>> insert;
  std::vector<std::pair<int, Datum>> update;
  std::vector<std::pair<int, Datum>> increment;
  // Empty, or one flag per increment: subtract it ("-:param") instead of adding it.
  std::vector<bool> increment_subtract;
  bool remove = false;
};

// Rows of the projection held in memory while action events are folded into them, packed
// (about 30 bytes per row besides its key and values; memory_bytes() tells the total). Keys
// not held are fetched (in one round trip per Apply); Flush writes the changed rows, in the
// order they were first held (existing ones deleted and re-inserted, new ones inserted with
// only their assigned columns so the others get their defaults), and forgets every row.
class RowCache {
 public:
  RowCache(storage::ProjectionStore& store, const std::vector<ColumnSpec>& columns);
  ~RowCache();

  // Applies `items` in order. One status per item; an error (a failing fetch) leaves the
  // cache unusable until Clear().
  absl::StatusOr<std::vector<absl::Status>> Apply(const std::vector<const ActionItem*>& items);
  // The Lua form (lua_runtime.h): the row of `key` as the events so far left it into `cells`
  // (every column, in table order) and true, or false when there is none. A key not held is
  // fetched (one round trip), unless known absent. An error (a failing fetch) leaves the cache
  // unusable until Clear().
  absl::StatusOr<bool> Get(std::string_view key, std::vector<storage::Cell>& cells);
  // Applies one successful Lua call's changes: each row becomes as the call left it (a fresh
  // row's unassigned columns get their defaults when written). Fails only when fetching a
  // row fails (then nothing is applied and the cache is unusable until Clear()).
  absl::Status ApplyChanges(const std::vector<LuaRowChange>& changes);
  absl::Status Flush();
  void Clear();
  // Declares that the table holds no rows (it was just emptied in this transaction): a key
  // not held is then known absent without a fetch, when its text is already the key column's
  // canonical text (text, or varchar within its length). Ends with Flush or Clear.
  void SetTableEmpty() { table_empty_ = true; }
  size_t size() const;  // rows held, absent ones included
  size_t memory_bytes() const;
  bool dirty() const { return dirty_; }

 private:
  // Makes the rows of `missing` (keys not held, each once) held: fetched, or known absent.
  absl::Status FetchMissing(const std::vector<std::string>& missing);
  // The id of the row of `key`, held first when it is not.
  absl::StatusOr<uint32_t> Hold(absl::string_view key);
  bool KeysAreCanonical(const std::vector<std::string>& keys) const;
  // Why the key column cannot hold `key`, or OK.
  absl::Status KeyRefused(absl::string_view key) const;

  storage::ProjectionStore& store_;
  const std::vector<ColumnSpec>& columns_;
  struct State;
  std::unique_ptr<State> state_;
  bool dirty_ = false;
  bool table_empty_ = false;
  // The key Get last held and its id (ids stay valid until Clear): a Lua call's changes are
  // mostly of the row it read, found again without a second lookup.
  std::string last_get_key_;
  std::optional<uint32_t> last_get_id_;
};

// Folds `items` against `store` (fetch touched rows, apply in order, write final states).
// Returns one status per item (OK or why it failed in memory). A failing fetch or write is
// the returned error; then nothing of the fold is known to be written.
absl::StatusOr<std::vector<absl::Status>> FoldAndWrite(storage::ProjectionStore& store,
                                                       const std::vector<ColumnSpec>& columns,
                                                       const std::vector<const ActionItem*>& items);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_ACTION_FOLD_H_
