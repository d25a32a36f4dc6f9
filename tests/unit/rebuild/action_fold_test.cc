// RowCache (server/rebuild/action_fold.h) over an in-memory ProjectionStore: the packed rows
// keep every value exactly (NULLs, long texts, float8 sums, the key column), rows that grow
// are moved without disturbing others, deletes and re-creations, fetched rows, and memory
// accounting. The PostgreSQL store itself is covered by the rebuild integration tests.

#include "server/rebuild/action_fold.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace protean_admin::rebuild {
namespace {

using storage::Cell;

// Rows by key; Write applies deletes then inserts (unassigned columns get NULL, their
// "default"). Counts the calls.
class MemoryStore : public storage::ProjectionStore {
 public:
  MemoryStore() {
    table_.table = "t";
    table_.qualified = "\"t\"";
    table_.columns = {{"id", "text", "text", -1, false},
                      {"name", "text", "text", -1, false},
                      {"balance", "double precision", "float8", -1, false},
                      {"note", "text", "text", -1, false}};
  }
  const storage::TableInfo& table() const override { return table_; }
  int key_index() const override { return 0; }
  absl::Status Truncate() override {
    rows.clear();
    return absl::OkStatus();
  }
  absl::StatusOr<storage::FetchResult> Fetch(const std::vector<std::string>& keys) override {
    ++fetches;
    storage::FetchResult out;
    for (const std::string& key : keys) {
      out.canonical.push_back(key);
      auto it = rows.find(key);
      if (it != rows.end()) out.rows.push_back({key, it->second});
    }
    return out;
  }
  absl::Status Write(const storage::WriteSet& writes) override {
    ++writes_;
    for (const std::string& key : writes.delete_keys) rows.erase(key);
    for (const storage::RowGroup& group : writes.groups) {
      for (const std::vector<Cell>& values : group.rows) {
        std::vector<Cell> row(table_.columns.size());
        for (size_t i = 0; i < group.columns.size(); ++i) row[group.columns[i]] = values[i];
        EXPECT_TRUE(rows.emplace(*row[0], row).second) << "duplicate key " << *row[0];
      }
    }
    return absl::OkStatus();
  }

  void SetKeyType(std::string type_sql, std::string type_name, int32_t typmod) {
    table_.columns[0].type_sql = std::move(type_sql);
    table_.columns[0].type_name = std::move(type_name);
    table_.columns[0].typmod = typmod;
  }

  std::map<std::string, std::vector<Cell>> rows;
  int fetches = 0;
  int writes_ = 0;

 private:
  storage::TableInfo table_;
};

Datum Text(std::string text) { return Datum{Datum::Kind::kString, std::move(text)}; }
Datum Number(std::string text) { return Datum{Datum::Kind::kNumber, std::move(text)}; }
Datum Null() { return Datum{}; }

class RowCacheTest : public ::testing::Test {
 protected:
  RowCacheTest() {
    for (const storage::ColumnInfo& c : store_.table().columns) {
      columns_.push_back(ColumnSpec::From(c));
    }
  }

  // Applies the items one Apply call each; every one must succeed.
  void Apply(RowCache& cache, const std::vector<ActionItem>& items) {
    for (const ActionItem& item : items) {
      auto statuses = cache.Apply({&item});
      ASSERT_TRUE(statuses.ok()) << statuses.status();
      ASSERT_TRUE((*statuses)[0].ok()) << (*statuses)[0];
    }
  }

  static ActionItem Set(std::string key, std::vector<std::pair<int, Datum>> set) {
    ActionItem item;
    item.key = std::move(key);
    item.set = std::move(set);
    return item;
  }
  static ActionItem Add(std::string key, std::string amount) {
    ActionItem item;
    item.key = std::move(key);
    item.insert = {{2, Number(amount)}};
    item.increment = {{2, Number(amount)}};
    return item;
  }

  MemoryStore store_;
  std::vector<ColumnSpec> columns_;
};

TEST_F(RowCacheTest, PackedRowsKeepEveryValue) {
  const std::string long_name(300, 'x');  // a length that needs two varint bytes
  RowCache cache(store_, columns_);
  cache.SetTableEmpty();
  Apply(cache,
        {Set("a", {{1, Text("")}, {3, Null()}}), Add("a", "0.1"), Add("a", "0.2"),
         Set("b", {{1, Text(long_name)}}), Add("b", "-5"),
         Set("a", {{1, Text("grown past its first place")}}), Add("a", "1e-3"), Add("c", "7")});
  EXPECT_EQ(store_.fetches, 0);  // the table is known empty
  EXPECT_EQ(cache.size(), 3u);
  ASSERT_TRUE(cache.Flush().ok());
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_EQ(store_.rows.size(), 3u);
  EXPECT_THAT(store_.rows["a"],
              ::testing::ElementsAre(Cell("a"), Cell("grown past its first place"),
                                     Cell("0.30100000000000005"), std::nullopt));
  EXPECT_THAT(store_.rows["b"],
              ::testing::ElementsAre(Cell("b"), Cell(long_name), Cell("-5"), std::nullopt));
  // Created by an increment: only the key and balance were assigned.
  EXPECT_THAT(store_.rows["c"],
              ::testing::ElementsAre(Cell("c"), std::nullopt, Cell("7"), std::nullopt));
}

TEST_F(RowCacheTest, FetchedRowsAreReplacedDeletedAndRecreated) {
  store_.rows["a"] = {Cell("a"), Cell("Ann"), Cell("10"), Cell("kept")};
  store_.rows["b"] = {Cell("b"), Cell("Bob"), Cell("1"), std::nullopt};
  store_.rows["z"] = {Cell("z"), Cell("Zed"), Cell("0"), std::nullopt};
  RowCache cache(store_, columns_);
  ActionItem remove_b;
  remove_b.key = "b";
  remove_b.remove = true;
  Apply(cache, {Add("a", "2.5"), remove_b, Add("b", "4"), Add("n", "1")});
  EXPECT_EQ(store_.fetches, 3);  // one per key not held yet: a, b, n
  ASSERT_TRUE(cache.Flush().ok());
  EXPECT_THAT(store_.rows["a"],
              ::testing::ElementsAre(Cell("a"), Cell("Ann"), Cell("12.5"), Cell("kept")));
  // Deleted, then created anew by an increment: the old name is gone.
  EXPECT_THAT(store_.rows["b"],
              ::testing::ElementsAre(Cell("b"), std::nullopt, Cell("4"), std::nullopt));
  EXPECT_THAT(store_.rows["z"],
              ::testing::ElementsAre(Cell("z"), Cell("Zed"), Cell("0"), std::nullopt));
  EXPECT_THAT(store_.rows["n"],
              ::testing::ElementsAre(Cell("n"), std::nullopt, Cell("1"), std::nullopt));
}

TEST_F(RowCacheTest, ManyRowsSurviveRehashingAndAreCountedInMemory) {
  RowCache cache(store_, columns_);
  cache.SetTableEmpty();
  const size_t empty = cache.memory_bytes();
  std::vector<ActionItem> items;
  constexpr int kRows = 20000;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kRows; ++i) {
      // Keys of different lengths; the second round finds every row again.
      items.push_back(Add(std::string(i % 7 + 1, 'k') + std::to_string(i), "1"));
    }
  }
  std::vector<const ActionItem*> pointers;
  for (const ActionItem& item : items) pointers.push_back(&item);
  auto statuses = cache.Apply(pointers);
  ASSERT_TRUE(statuses.ok()) << statuses.status();
  EXPECT_EQ(cache.size(), static_cast<size_t>(kRows));
  // At least the keys and values, and far less than the ~370 bytes a row once took.
  EXPECT_GT(cache.memory_bytes() - empty, static_cast<size_t>(kRows) * 20);
  EXPECT_LT(cache.memory_bytes() - empty, static_cast<size_t>(kRows) * 150);
  ASSERT_TRUE(cache.Flush().ok());
  ASSERT_EQ(store_.rows.size(), static_cast<size_t>(kRows));
  for (const auto& [key, row] : store_.rows) {
    ASSERT_EQ(row[2], Cell("2")) << key;
  }
  EXPECT_LT(cache.memory_bytes(), empty + 1024);  // the arena is released
}

TEST_F(RowCacheTest, AFailingItemLeavesItsRowAsItWas) {
  RowCache cache(store_, columns_);
  cache.SetTableEmpty();
  Apply(cache, {Set("a", {{1, Text("Ann")}}), Add("a", "1e308")});
  ActionItem overflow = Add("a", "1e308");
  ActionItem null_key;
  auto statuses = cache.Apply({&overflow, &null_key});
  ASSERT_TRUE(statuses.ok());
  EXPECT_FALSE((*statuses)[0].ok());
  EXPECT_THAT((*statuses)[1].message(), ::testing::HasSubstr("the key (id) is NULL"));
  ASSERT_TRUE(cache.Flush().ok());
  EXPECT_THAT(store_.rows["a"],
              ::testing::ElementsAre(Cell("a"), Cell("Ann"), Cell("1e+308"), std::nullopt));
}

// A key longer than a varchar(n) key column allows never has a row: it is not fetched (an
// explicit cast would truncate it to another row's key), creating its row fails as
// PostgreSQL's INSERT does, and deleting or updating it does nothing.
TEST_F(RowCacheTest, AKeyTheKeyColumnCannotHoldHasNoRow) {
  store_.SetKeyType("character varying(3)", "varchar", 3 + 4);
  columns_[0] = ColumnSpec::From(store_.table().columns[0]);
  store_.rows["abc"] = {Cell("abc"), Cell("Abc"), Cell("1"), std::nullopt};
  RowCache cache(store_, columns_);
  ActionItem remove_long;
  remove_long.key = "abcd";
  remove_long.remove = true;
  ActionItem increment_only;
  increment_only.key = "abcé";
  increment_only.increment = {{2, Number("5")}};
  ActionItem create_long = Set("abcd", {{1, Text("x")}});
  ActionItem create_spaces = Set("ab   ", {{1, Text("trailing spaces fit")}});
  ActionItem create_multibyte = Set("éé", {{1, Text("two characters, four bytes")}});
  auto statuses =
      cache.Apply({&remove_long, &increment_only, &create_long, &create_spaces, &create_multibyte});
  ASSERT_TRUE(statuses.ok()) << statuses.status();
  EXPECT_TRUE((*statuses)[0].ok());
  EXPECT_TRUE((*statuses)[1].ok());
  EXPECT_EQ((*statuses)[2].message(), "value too long for type character varying(3)");
  EXPECT_TRUE((*statuses)[3].ok());
  EXPECT_TRUE((*statuses)[4].ok());
  EXPECT_EQ(store_.fetches, 1);  // "ab   " and "éé" only
  ASSERT_TRUE(cache.Flush().ok());
  EXPECT_EQ(store_.rows["abc"][1], Cell("Abc"));  // untouched
  EXPECT_EQ(store_.rows.size(), 3u);
}

}  // namespace
}  // namespace protean_admin::rebuild
