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
#include "server/rebuild/action_values.h"

namespace protean_admin::rebuild {
namespace {

using storage::Cell;

// Rows by key; Write applies deletes then inserts (unassigned columns get NULL, their
// "default"). Counts the calls.
class MemoryStore : public storage::ProjectionStore {
 public:
  MemoryStore()
      : MemoryStore({{"id", "text", "text", -1, false},
                     {"name", "text", "text", -1, false},
                     {"balance", "double precision", "float8", -1, false},
                     {"note", "text", "text", -1, false}}) {}
  explicit MemoryStore(std::vector<storage::ColumnInfo> columns) {
    table_.table = "t";
    table_.qualified = "\"t\"";
    table_.columns = std::move(columns);
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
Datum Json(std::string text) { return Datum{Datum::Kind::kJson, std::move(text)}; }
Datum Bool(bool value) { return Datum{Datum::Kind::kBool, value ? "true" : "false"}; }

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

// update assigns only when the row exists; set, then update, then increments, in one item.
TEST_F(RowCacheTest, UpdateAssignsOnlyWhenTheRowExists) {
  store_.rows["a"] = {Cell("a"), Cell("Ann"), Cell("10"), Cell("old")};
  RowCache cache(store_, columns_);
  ActionItem update_a;
  update_a.key = "a";
  update_a.update = {{1, Text("Anna")}, {3, Null()}};
  ActionItem update_missing = update_a;
  update_missing.key = "m";
  ActionItem all = Set("b", {{1, Text("Bob")}});  // b is absent: created by set alone
  all.update = {{3, Text("updated")}};
  all.increment = {{2, Number("5")}};
  ActionItem again = all;  // b now exists: set, update, then increment
  again.set = {{2, Number("1")}};
  again.update = {{2, Number("100")}, {3, Text("again")}};
  ActionItem insert_or_update;
  insert_or_update.key = "c";
  insert_or_update.insert = {{3, Text("new")}};
  insert_or_update.update = {{3, Text("existing")}};
  ActionItem second_c = insert_or_update;
  Apply(cache, {update_a, update_missing, all, again, insert_or_update, second_c});
  ASSERT_TRUE(cache.Flush().ok());
  EXPECT_THAT(store_.rows["a"],
              ::testing::ElementsAre(Cell("a"), Cell("Anna"), Cell("10"), std::nullopt));
  EXPECT_EQ(store_.rows.count("m"), 0u);  // no row created
  EXPECT_THAT(store_.rows["b"],
              ::testing::ElementsAre(Cell("b"), Cell("Bob"), Cell("105"), Cell("again")));
  EXPECT_THAT(store_.rows["c"],
              ::testing::ElementsAre(Cell("c"), std::nullopt, std::nullopt, Cell("existing")));
}

// A negated increment subtracts, in event order, also on the float8 running sum; a failing
// update leaves the row as it was.
TEST_F(RowCacheTest, NegatedIncrementsSubtractAndFailuresChangeNothing) {
  RowCache cache(store_, columns_);
  cache.SetTableEmpty();
  ActionItem take = Add("a", "0.1");
  take.insert.clear();
  take.increment_subtract = {true};
  Apply(cache, {Add("a", "0.3"), take, take});
  ActionItem bad;
  bad.key = "a";
  bad.update = {{1, Text("never")}, {2, Text("not a number")}};
  auto statuses = cache.Apply({&bad});
  ASSERT_TRUE(statuses.ok());
  EXPECT_THAT((*statuses)[0].message(), ::testing::HasSubstr("invalid input syntax"));
  ASSERT_TRUE(cache.Flush().ok());
  // 0.3 - 0.1 - 0.1 in doubles, one operation at a time.
  const double expected = (0.3 - 0.1) - 0.1;
  EXPECT_EQ(store_.rows["a"][2], Cell(FormatFloat8(expected)));
  EXPECT_EQ(store_.rows["a"][1], std::nullopt);
}

// Values into json, jsonb and array columns (action_values.h).
TEST(ActionValueTextTest, JsonAndArrayColumns) {
  auto column = [](std::string type_sql, std::string type_name) {
    return ColumnSpec::From({"c", std::move(type_sql), std::move(type_name), -1, false});
  };
  const ColumnSpec jsonb = column("jsonb", "jsonb");
  const ColumnSpec tags = column("character varying(20)[]", "_varchar");
  const ColumnSpec items = column("json[]", "_json");
  const ColumnSpec text = column("text", "text");
  auto text_of = [](const ColumnSpec& c, const Datum& d) {
    absl::StatusOr<std::string> t = ActionValueText(c, d);
    return t.ok() ? *t : "error: " + std::string(t.status().message());
  };
  EXPECT_EQ(text_of(jsonb, Text("a \"q\"")), R"("a \"q\"")");  // a JSON string
  EXPECT_EQ(text_of(jsonb, Number("1.50")), "1.50");
  EXPECT_EQ(text_of(jsonb, Bool(true)), "true");
  EXPECT_EQ(text_of(jsonb, Json(R"({"a": [1]})")), R"({"a": [1]})");
  EXPECT_EQ(text_of(tags, Json(R"(["a", "b c", null, "q\""])")), R"({"a","b c",NULL,"q\""})");
  EXPECT_EQ(text_of(tags, Json("[]")), "{}");
  EXPECT_EQ(text_of(tags, Text("one")), R"({"one"})");  // one item
  EXPECT_EQ(text_of(tags, Json("[[1, 2], [3]]")),
            "error: invalid array: multidimensional arrays must have sub-arrays of matching "
            "lengths (column c)");
  EXPECT_EQ(text_of(items, Json(R"([{"sku": "A"}, "s", 2, [1]])")),
            R"({"{\"sku\": \"A\"}","\"s\"",2,"[1]"})");
  EXPECT_EQ(text_of(items, Json(R"({"sku": "A"})")), R"({"{\"sku\": \"A\"}"})");
  EXPECT_EQ(text_of(items, Text("s")), R"({"\"s\""})");
  EXPECT_EQ(text_of(text, Json("[1,2]")), "[1,2]");  // other columns: the text as before
  EXPECT_EQ(text_of(text, Text("plain")), "plain");
}

TEST(NegateValueTest, NumbersFlipTheirSignExactly) {
  auto negated = [](const Datum& d) {
    absl::StatusOr<Datum> n = NegateValue(d, ":q");
    return n.ok() ? (n->is_null() ? "NULL" : n->text)
                  : "error: " + std::string(n.status().message());
  };
  EXPECT_EQ(negated(Number("5")), "-5");
  EXPECT_EQ(negated(Number("-2.50")), "2.50");
  EXPECT_EQ(negated(Number("1e-7")), "-1e-7");
  EXPECT_EQ(negated(Text(" 12.50 ")), "-12.50");  // decimals carried as strings
  EXPECT_EQ(negated(Text("+3")), "-3");
  EXPECT_EQ(negated(Text("-9223372036854775808")), "9223372036854775808");
  EXPECT_EQ(negated(Null()), "NULL");
  EXPECT_EQ(negated(Text("abc")), "error: cannot negate -:q: \"abc\" is not a number");
  EXPECT_EQ(negated(Text("NaN")), "error: cannot negate -:q: \"NaN\" is not a number");
  EXPECT_EQ(negated(Bool(true)), "error: cannot negate -:q: \"true\" is not a number");
  EXPECT_EQ(negated(Json("[1]")), "error: cannot negate -:q: \"[1]\" is not a number");
}

// Arrays and jsonb folded: the cells are the array and JSON texts PostgreSQL reads.
TEST(RowCacheArrayTest, ArrayAndJsonbColumns) {
  MemoryStore store({{"id", "text", "text", -1, false},
                     {"tags", "character varying[]", "_varchar", -1, false},
                     {"items", "json[]", "_json", -1, false},
                     {"data", "jsonb", "jsonb", -1, false}});
  std::vector<ColumnSpec> columns;
  for (const storage::ColumnInfo& c : store.table().columns) columns.push_back(ColumnSpec::From(c));
  RowCache cache(store, columns);
  cache.SetTableEmpty();
  ActionItem create;
  create.key = "o1";
  create.set = {{1, Json(R"(["a", "b"])")}, {2, Json(R"([{"n": 1}])")}, {3, Text("s")}};
  ActionItem update;
  update.key = "o1";
  update.update = {{1, Json("[]")}, {3, Json(R"({"k": null})")}};
  ActionItem bad = update;
  bad.update = {{2, Json("[[1], [2, 3]]")}};  // fine: json items are JSON values
  bad.update.push_back({1, Json("[[1], [2, 3]]")});
  auto statuses = cache.Apply({&create, &update, &bad});
  ASSERT_TRUE(statuses.ok());
  EXPECT_TRUE((*statuses)[0].ok());
  EXPECT_TRUE((*statuses)[1].ok());
  EXPECT_THAT((*statuses)[2].message(), ::testing::HasSubstr("sub-arrays of matching lengths"));
  ASSERT_TRUE(cache.Flush().ok());
  EXPECT_THAT(store.rows["o1"],
              ::testing::ElementsAre(Cell("o1"), Cell("{}"), Cell(R"({"{\"n\": 1}"})"),
                                     Cell(R"({"k": null})")));
}

}  // namespace
}  // namespace protean_admin::rebuild
