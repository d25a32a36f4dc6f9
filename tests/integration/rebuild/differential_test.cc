// The differential test of the rebuild engine (issue 13; the action form's basics of issue
// 16: `update`, negated increments, the explicit NULL, text[] and jsonb columns): random
// histories of creates, updates (upserts and updates of present rows only), increments
// (negated ones too), deletes and re-creates of a few keys, interleaved over three
// categories and fed to three projectors of one projection, each handler rendered in a form
// drawn per handler (action, SQL or Lua form, the same semantics in each), rebuilt by
// rebuild::RebuildProjection under both strategies, batch sizes 1, 7 and 500 and row-cache
// budgets from one byte to the default, and compared with a plain per-event reference applier
// written here: the same rows (exact, doubles and decimals included) and the same dispatched
// and skipped counts, every time.
//
//  - LongHistoryTest: a few histories of 300 events, each under a random form assignment,
//    all-action and all-SQL, and the whole matrix (18 rebuilds each).
//  - ShortHistories...: many histories of 40 events, random assignments, each rebuild at a
//    random point of the matrix and over a random prefix of the history.
//  - EveryFormAssignmentOfOneProjector: one projector, every assignment of forms to its five
//    handlers, over histories of 20 events and their prefixes.
//
// The semantics every form renders are the action form's (docs/domain-toml.md "Action form",
// server/rebuild/action_fold.h): an absent row is created by `insert` or `set` (key, insert
// values, set values; other columns get their defaults) and untouched by `update` and
// `increment`, a present row gets its set values, then its update values, then its
// increments (NULL counts as 0; a negated increment "-:field" subtracts), `delete` removes
// the row; a NULL key, a value its column's type refuses and an increment by NULL make the
// handler refuse the event, which is then skipped with no effect. Each form is a
// HandlerRenderer.
//
// A failure names the history's seed, the prefix rebuilt, the form of every handler and the
// options; the seeds are fixed, so the run repeats with the test's --gtest_filter.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "domain/loader.h"
#include "domain/parameters.h"
#include "gtest/gtest.h"
#include "server/rebuild/rebuild.h"
#include "spdlog/spdlog.h"
#include "storage/projection_table.h"
#include "tests/integration/rebuild/rebuild_fixture.h"

namespace protean_admin::testing {
namespace {

constexpr char kTable[] = "orders";
// Keys besides k0, k1, ...: the empty key, and for a varchar(32) key column one of exactly 32
// characters and one longer that starts with it (a too long value: an INSERT of it fails, a
// comparison with it matches no row).
constexpr char kLongestKey[] = "order-0123456789-0123456789-abcd";
constexpr char kOverlongKey[] = "order-0123456789-0123456789-abcd-2";
constexpr char kExpectedTable[] = "expected_orders";
// The row cache allocates its arena in blocks of 1 MiB (server/rebuild/action_fold.cc): a
// budget that holds a handful of rows is one block and a few hundred bytes (a few hundred
// bytes alone act like one byte: the cache is written after every batch).
constexpr int64_t kHandfulOfRowsBytes = (int64_t{1} << 20) + 300;

// ---- Exact decimals for the reference (PostgreSQL numeric: value and display scale) ----

struct ScaledDecimal {
  __int128 units = 0;  // value * 10^scale
  int scale = 0;
};

__int128 Pow10(int n) {
  __int128 p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

// numeric_in: [+-]digits[.digits][e[+-]digits]; the display scale is the number of digits
// after the point less the exponent (never below 0). nullopt where PostgreSQL refuses.
std::optional<ScaledDecimal> ParseNumeric(std::string_view s) {
  size_t i = 0;
  const bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) ++i;
  __int128 digits = 0;
  int count = 0, fraction = 0;
  bool point = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      digits = digits * 10 + (s[i] - '0');
      ++count;
      fraction += point ? 1 : 0;
    } else if (s[i] == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (count == 0) return std::nullopt;
  int exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    std::string_view rest = s.substr(i + 1);
    if (!rest.empty() && rest[0] == '+') rest.remove_prefix(1);
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), exponent);
    if (rest.empty() || ec != std::errc() || end != rest.data() + rest.size()) {
      return std::nullopt;
    }
    i = s.size();
  }
  // Small values only (units stay far within 128 bits).
  if (i != s.size() || count + std::max(0, exponent - fraction) > 36) return std::nullopt;
  ScaledDecimal d;
  d.scale = std::max(0, fraction - exponent);
  d.units = (negative ? -digits : digits) * Pow10(exponent - fraction + d.scale);
  return d;
}

// Rounds half away from zero (or pads) to `scale`.
ScaledDecimal Rescale(const ScaledDecimal& d, int scale) {
  if (scale >= d.scale) return {d.units * Pow10(scale - d.scale), scale};
  const __int128 p = Pow10(d.scale - scale);
  __int128 q = d.units / p;
  const __int128 r = d.units % p;
  if (2 * (r < 0 ? -r : r) >= p) q += d.units < 0 ? -1 : 1;
  return {q, scale};
}

// numeric_add: the result's scale is the larger of the operands'.
ScaledDecimal AddNumeric(const ScaledDecimal& a, const ScaledDecimal& b) {
  const int scale = std::max(a.scale, b.scale);
  return {Rescale(a, scale).units + Rescale(b, scale).units, scale};
}

std::string NumericText(const ScaledDecimal& d) {
  __int128 magnitude = d.units < 0 ? -d.units : d.units;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  } while (magnitude != 0);
  if (static_cast<int>(digits.size()) <= d.scale) {
    digits.insert(0, static_cast<size_t>(d.scale) + 1 - digits.size(), '0');
  }
  if (d.scale > 0) digits.insert(digits.size() - static_cast<size_t>(d.scale), ".");
  return (d.units < 0 ? "-" : "") + digits;
}

// ---- The projection ----

enum class Kind { kText, kFloat8, kNumeric, kBigint, kTextArray, kJsonb };

bool IsNumeric(Kind kind) {
  return kind == Kind::kFloat8 || kind == Kind::kNumeric || kind == Kind::kBigint;
}

// A column's value in the reference: NULL, text (also the literal of a text[] and the text
// of a jsonb value), float8, numeric or bigint.
using Cell = std::variant<std::monostate, std::string, double, ScaledDecimal, int64_t>;

struct Column {
  std::string name = "";
  std::string type_sql = "";  // spliced into CREATE TABLE (storage::CreateTable), with DEFAULT
  Kind kind = Kind::kText;
  int max_length = -1;  // varchar(max_length)
  int precision = -1;   // numeric(precision, scale); -1: unconstrained
  int scale = -1;
  Cell default_value = {};  // what the DEFAULT gives; NULL without one
};

std::vector<Column> Columns(bool varchar_key) {
  return {
      {"id", varchar_key ? "varchar(32)" : "text", Kind::kText, varchar_key ? 32 : -1},
      {"name", "text", Kind::kText},
      {"note", "text", Kind::kText},  // often set from a missing field: NULL
      {"status", "text DEFAULT 'open'", Kind::kText, -1, -1, -1, std::string("open")},
      {"fsum", "double precision", Kind::kFloat8},
      {"dsum", "numeric", Kind::kNumeric},
      {"price", "numeric(12,3)", Kind::kNumeric, -1, 12, 3},
      {"cnt", "bigint DEFAULT 0", Kind::kBigint, -1, -1, -1, int64_t{0}},
      {"tags", "text[]", Kind::kTextArray},  // a Protean List field of strings
      {"meta", "jsonb", Kind::kJsonb},
  };
}

// ---- Abstract operations, in the terms of the action form ----

// A handler's value: a payload field (negated: "-:field", in increments) or a literal.
struct Source {
  std::string field;  // empty: `literal`
  nlohmann::json literal;
  bool negate = false;
};
Source Field(std::string field) { return {std::move(field), nullptr}; }
Source Negated(std::string field) { return {std::move(field), nullptr, true}; }
Source Literal(nlohmann::json literal) { return {"", std::move(literal)}; }

struct Assignment {
  std::string column;
  Source value;
};

struct Operation {
  std::string key_field = "";
  std::vector<Assignment> insert = {};
  std::vector<Assignment> set = {};
  std::vector<Assignment> update = {};  // columns apart from set's and increment's
  std::vector<Assignment> increment = {};
  bool remove = false;
};

struct EventType {
  std::string name;
  std::string aggregate;
  std::vector<std::string> fields;  // the first is the key field
  size_t weight = 1;                // how often it is drawn, relative to the others
};

struct HandlerSpec {
  std::string event;
  Operation op;
};

struct ProjectorSpec {
  std::string name;
  std::vector<std::string> aggregates;
  std::vector<HandlerSpec> handlers;
};

struct Model {
  std::vector<Column> columns;
  std::vector<std::pair<std::string, std::string>> aggregates;  // name, stream category
  std::vector<EventType> events;
  std::vector<ProjectorSpec> projectors;

  const Column& column(std::string_view name) const {
    return *std::find_if(columns.begin(), columns.end(),
                         [&](const Column& c) { return c.name == name; });
  }
  std::string category(std::string_view aggregate) const {
    for (const auto& [name, category] : aggregates) {
      if (name == aggregate) return category;
    }
    return "";
  }
};

// Three projectors of one projection over overlapping categories. The operations: Create
// (insert + set, a text[] and a jsonb column among them), Amend (update, an explicit NULL
// among its values: nothing when absent; no value it reads is refused by its column, as
// the SQL form's UPDATE would refuse it even when no row matches), Add (insert when absent,
// else increment), Bump (increment, one negated: nothing when absent), Refund (insert + set +
// negated increment), Audit (set: creates a missing row too), Bump audit (update +
// increment), Restart (set and increment of one column), Remove (delete). Events without a
// handler in a projector that reads their category are dispatched for it without effect.
Model MakeModel(bool varchar_key) {
  Model m;
  m.columns = Columns(varchar_key);
  m.aggregates = {{"Order", "diff::order"}, {"Payment", "diff::payment"}, {"Audit", "diff::audit"}};
  m.events = {
      {"OrderPlaced", "Order", {"id", "name", "note", "price", "tags", "meta"}, 3},
      {"OrderAmended", "Order", {"id", "note", "value", "tags"}, 2},
      {"OrderCancelled", "Order", {"id"}, 1},
      {"PaymentMade", "Payment", {"order_id", "amount", "value", "fee", "qty"}, 4},
      {"PaymentRefunded", "Payment", {"order_id", "amount"}, 2},
      {"Audited", "Audit", {"id", "note", "status", "value"}, 2},
      {"Purged", "Audit", {"id"}, 1},
  };
  Operation create{.key_field = "id",
                   .insert = {{"status", Literal("placed")}},
                   .set = {{"name", Field("name")},
                           {"note", Field("note")},
                           {"price", Field("price")},
                           {"tags", Field("tags")},
                           {"meta", Field("meta")}}};
  Operation amend{.key_field = "id",
                  .update = {{"note", Field("note")},
                             {"dsum", Field("value")},
                             {"tags", Field("tags")},
                             {"status", Literal(nullptr)}}};
  Operation add{.key_field = "order_id",
                .insert = {{"fsum", Field("amount")},
                           {"dsum", Field("value")},
                           {"price", Field("fee")},
                           {"cnt", Literal(1)}},
                .increment = {{"fsum", Field("amount")},
                              {"dsum", Field("value")},
                              {"price", Field("fee")},
                              {"cnt", Literal(1)}}};
  Operation bump_fee{.key_field = "order_id",
                     .increment = {{"price", Field("fee")}, {"cnt", Negated("qty")}}};
  Operation refund{.key_field = "order_id",
                   .insert = {{"name", Literal("refund")}, {"fsum", Field("amount")}},
                   .set = {{"status", Literal("refunded")}},
                   .increment = {{"fsum", Negated("amount")}}};
  Operation audit{.key_field = "id", .set = {{"note", Field("note")}, {"status", Field("status")}}};
  Operation bump_audit{.key_field = "id",
                       .update = {{"note", Field("status")}},
                       .increment = {{"cnt", Literal(1)}, {"dsum", Negated("value")}}};
  Operation restart{.key_field = "id",
                    .insert = {{"note", Literal("audited")}},
                    .set = {{"cnt", Literal(0)}},
                    .increment = {{"cnt", Literal(1)}}};
  Operation remove_by_id{.key_field = "id", .remove = true};
  m.projectors = {
      {"OrderBook",
       {"Order", "Payment"},
       {{"OrderPlaced", create},
        {"OrderAmended", amend},
        {"OrderCancelled", remove_by_id},
        {"PaymentMade", add}}},
      {"Ledger",
       {"Payment", "Audit"},
       {{"PaymentMade", bump_fee}, {"PaymentRefunded", refund}, {"Audited", audit}}},
      {"Auditor",
       {"Audit", "Order"},
       {{"Audited", bump_audit}, {"Purged", remove_by_id}, {"OrderPlaced", restart}}},
  };
  return m;
}

// OrderBook alone, with a fifth handler (Bump on PaymentRefunded): few enough handlers to try
// every form assignment.
Model MakeSingleProjectorModel(bool varchar_key) {
  Model m = MakeModel(varchar_key);
  std::erase_if(m.events, [](const EventType& e) { return e.aggregate == "Audit"; });
  m.aggregates.pop_back();  // Audit
  m.projectors.resize(1);
  m.projectors[0].handlers.push_back(
      {"PaymentRefunded",
       {.key_field = "order_id", .increment = {{"fsum", Field("amount")}, {"cnt", Literal(1)}}}});
  return m;
}

// ---- Renderers: one per handler form, each giving exactly the operation's semantics ----

class HandlerRenderer {
 public:
  virtual ~HandlerRenderer() = default;
  virtual std::string name() const = 0;
  virtual absl::StatusOr<domain::Handler> Render(const Model& model, const std::string& event,
                                                 const Operation& op) const = 0;
};

domain::Value ActionValue(const Source& source) {
  if (source.field.empty()) return Lit(source.literal);
  domain::Value value = Ref(":" + source.field);
  value.negate = source.negate;
  return value;
}

class ActionRenderer : public HandlerRenderer {
 public:
  std::string name() const override { return "action"; }
  absl::StatusOr<domain::Handler> Render(const Model& model, const std::string& event,
                                         const Operation& op) const override {
    auto list = [](const std::vector<Assignment>& assignments) {
      std::vector<std::pair<std::string, domain::Value>> out;
      for (const Assignment& a : assignments) out.emplace_back(a.column, ActionValue(a.value));
      return out;
    };
    domain::Handler h = ActionHandler(event, ":" + op.key_field, list(op.set), list(op.insert),
                                      list(op.increment), op.remove);
    h.update = list(op.update);
    // Without `key` the handler reads the field named like the key column.
    if (op.key_field == model.columns[0].name) h.key = domain::Value();
    return h;
  }
};

std::string SqlValue(const Source& source) {
  if (!source.field.empty()) return ":" + source.field;
  if (source.literal.is_string()) {
    return "'" + absl::StrReplaceAll(source.literal.get<std::string>(), {{"'", "''"}}) + "'";
  }
  return source.literal.dump();
}

const char* SqlType(Kind kind) {
  switch (kind) {
    case Kind::kFloat8:
      return "double precision";
    case Kind::kNumeric:
      return "numeric";
    case Kind::kBigint:
      return "bigint";
    case Kind::kText:
    case Kind::kTextArray:
    case Kind::kJsonb:
      break;
  }
  return "text";
}

// SQL statements written as a projector's author would, with `:field` parameters rewritten by
// domain::RewriteSql as the loader does.
class SqlRenderer : public HandlerRenderer {
 public:
  std::string name() const override { return "sql"; }
  absl::StatusOr<domain::Handler> Render(const Model& model, const std::string& event,
                                         const Operation& op) const override {
    std::vector<domain::SqlStatement> statements;
    for (const std::string& text : Statements(model, op)) {
      absl::StatusOr<domain::SqlStatement> s = domain::RewriteSql(text);
      if (!s.ok()) return s.status();
      statements.push_back(std::move(*s));
    }
    return SqlHandler(event, std::move(statements));
  }

 private:
  static std::vector<std::string> Statements(const Model& model, const Operation& op) {
    const std::string& key = model.columns[0].name;
    const std::string key_param = ":" + op.key_field;
    // The action form refuses a NULL key. Statements that insert no row would pass over it,
    // so they follow one that inserts a NULL key then, and fails (the key is the primary key).
    // It inserts NULL rather than the key: the key converted to a varchar(n) column would be
    // checked for its length when the statement is planned, even when no row is inserted.
    const std::string guard =
        absl::StrCat("INSERT INTO ", kTable, " (", key, ") SELECT NULL WHERE CAST(", key_param,
                     " AS text) IS NULL");
    if (op.remove) {
      return {guard, absl::StrCat("DELETE FROM ", kTable, " WHERE ", key, " = ", key_param)};
    }
    std::vector<std::string> updates;
    for (const Assignment& a : op.update) {
      updates.push_back(absl::StrCat(a.column, " = ", SqlValue(a.value)));
    }
    for (const Assignment& a : op.increment) {
      updates.push_back(absl::StrCat(a.column, " = ", Increment(model, op, a, "r")));
    }
    if (op.insert.empty() && op.set.empty()) {  // nothing happens to an absent row
      return {guard, absl::StrCat("UPDATE ", kTable, " AS r SET ", absl::StrJoin(updates, ", "),
                                  " WHERE r.", key, " = ", key_param)};
    }
    return {Upsert(model, op)};
  }

  // The row's value (`row`.column, or the value just set) plus the increment, NULL as 0. An
  // increment by NULL is refused like the action form refuses it: the coalesce falls back on
  // reading an unset setting, which raises (coalesce evaluates it only then, and a STABLE
  // function is not folded into a constant when the statement is planned).
  static std::string Increment(const Model& model, const Operation& op, const Assignment& a,
                               const std::string& row) {
    std::string base = absl::StrCat(row, ".", a.column);
    for (const Assignment& s : op.set) {
      if (s.column == a.column) base = absl::StrCat("EXCLUDED.", a.column);
    }
    std::string delta = SqlValue(a.value);
    if (!a.value.field.empty()) {
      delta = absl::StrCat("coalesce(", delta, ", current_setting('diff.increment_by_null')::",
                           SqlType(model.column(a.column).kind), ")");
    }
    return absl::StrCat("coalesce(", base, ", 0) ", a.value.negate ? "-" : "+", " ", delta);
  }

  // INSERT ... ON CONFLICT: the insert and set values (set wins) for an absent row; the set
  // values, the update values and then the increments for a present one.
  static std::string Upsert(const Model& model, const Operation& op) {
    const std::string& key = model.columns[0].name;
    std::vector<std::string> columns = {key};
    std::vector<std::string> values = {":" + op.key_field};
    for (const auto* list : {&op.insert, &op.set}) {
      for (const Assignment& a : *list) {
        auto at = std::find(columns.begin(), columns.end(), a.column);
        if (at != columns.end()) {
          values[at - columns.begin()] = SqlValue(a.value);
        } else {
          columns.push_back(a.column);
          values.push_back(SqlValue(a.value));
        }
      }
    }
    std::vector<std::string> updates;
    for (const Assignment& s : op.set) {
      bool incremented = false;
      for (const Assignment& a : op.increment) incremented |= a.column == s.column;
      if (!incremented) updates.push_back(absl::StrCat(s.column, " = EXCLUDED.", s.column));
    }
    for (const Assignment& a : op.update) {
      updates.push_back(absl::StrCat(a.column, " = ", SqlValue(a.value)));
    }
    for (const Assignment& a : op.increment) {
      updates.push_back(absl::StrCat(a.column, " = ", Increment(model, op, a, "r")));
    }
    return absl::StrCat(
        "INSERT INTO ", kTable, " AS r (", absl::StrJoin(columns, ", "), ") VALUES (",
        absl::StrJoin(values, ", "), ") ON CONFLICT (", key, ") ",
        updates.empty() ? "DO NOTHING" : "DO UPDATE SET " + absl::StrJoin(updates, ", "));
  }
};

std::string LuaLiteral(const nlohmann::json& literal) {
  if (literal.is_null()) return "nil";
  if (!literal.is_string()) return literal.dump();
  std::string out = "\"";
  for (char c : literal.get<std::string>()) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string LuaValue(const Source& source) {
  return source.field.empty() ? LuaLiteral(source.literal) : "event." + source.field;
}

// `r.column = value`; a list column takes a lone string as a one-item list, as the action
// form does.
std::string LuaAssign(const Model& model, const Assignment& a, absl::string_view indent) {
  std::string value = LuaValue(a.value);
  if (model.column(a.column).kind == Kind::kTextArray && !a.value.field.empty()) {
    value =
        absl::StrCat("(type(", value, ") == \"string\" and array({", value, "}) or ", value, ")");
  }
  return absl::StrCat(indent, "r.", a.column, " = ", value, "\n");
}

// A Lua-form handler as a user would write the operation (docs/domain-toml.md "Lua form"):
// the row read, created with its insert and set values when absent, else its set values and
// then its update values assigned and its increments added or, negated, subtracted (numeric
// ones as decimals); a refused value raises.
class LuaRenderer : public HandlerRenderer {
 public:
  std::string name() const override { return "lua"; }
  absl::StatusOr<domain::Handler> Render(const Model& model, const std::string& event,
                                         const Operation& op) const override {
    domain::Handler h;
    h.event = event;
    h.form = domain::Handler::Form::kLua;
    h.lua_line = 1;
    const Column& key = model.columns[0];
    std::string& lua = h.lua;
    absl::StrAppend(&lua, "local k = event.", op.key_field, "\n",
                    "if k == nil then error(\"the key (", key.name, ") is NULL\") end\n");
    // A key its varchar(n) column cannot hold has no row (the action form's rule).
    absl::StrAppend(&lua, "local fits = ",
                    key.max_length < 0 ? "true" : absl::StrCat("#k <= ", key.max_length), "\n");
    if (op.remove) {
      lua += "if fits then rows[k] = nil end\n";
      return h;
    }
    lua += "local r = fits and rows[k] or nil\nif r == nil then\n";
    if (!op.insert.empty() || !op.set.empty()) {
      absl::StrAppend(&lua, "  if not fits then error(\"value too long for type ", key.type_sql,
                      "\") end\n  rows[k] = {}\n  r = rows[k]\n");
      for (const auto* list : {&op.insert, &op.set}) {
        for (const Assignment& a : *list) lua += LuaAssign(model, a, "  ");
      }
    }
    lua += "  return\nend\n";
    for (const auto* list : {&op.set, &op.update}) {
      for (const Assignment& a : *list) lua += LuaAssign(model, a, "");
    }
    for (const Assignment& a : op.increment) {
      const std::string v = LuaValue(a.value);
      const char* sign = a.value.negate ? " - " : " + ";
      absl::StrAppend(&lua, "if ", v, " == nil then error(\"increment of ", a.column,
                      " by NULL\") end\n");
      if (model.column(a.column).kind == Kind::kNumeric) {
        absl::StrAppend(&lua, "r.", a.column, " = (r.", a.column, " or decimal(0))", sign,
                        "decimal(", v, ")\n");
      } else {
        absl::StrAppend(&lua, "r.", a.column, " = (r.", a.column, " or 0)", sign, v, "\n");
      }
    }
    return h;
  }
};

// The renderer (an index into the renderers) of every handler, per projector.
using FormAssignment = std::vector<std::vector<size_t>>;

std::string Describe(const Model& model, const FormAssignment& forms,
                     const std::vector<std::unique_ptr<HandlerRenderer>>& renderers) {
  std::vector<std::string> parts;
  for (size_t p = 0; p < model.projectors.size(); ++p) {
    for (size_t h = 0; h < model.projectors[p].handlers.size(); ++h) {
      parts.push_back(absl::StrCat(model.projectors[p].name, ".",
                                   model.projectors[p].handlers[h].event, "=",
                                   renderers[forms[p][h]]->name()));
    }
  }
  return absl::StrJoin(parts, " ");
}

// ---- Histories ----

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  size_t Below(size_t n) { return static_cast<size_t>(engine_() % n); }
  bool Percent(size_t p) { return Below(100) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& values) {
    return values[Below(values.size())];
  }

 private:
  std::mt19937_64 engine_;
};

struct StoredEvent {
  std::string category;
  std::string stream;
  std::string type;
  nlohmann::json data;
};

std::string TypeString(const std::string& event) { return absl::StrCat("Diff.", event, ".v1"); }

// A decimal written as a JSON string (its exact text) or, now and then, as a JSON number.
// Not a number with an integral value written with a fraction or exponent ("1e3" is stored
// 1000.0): the Lua form reads it as a float, which carries no scale, and writes 1000.
nlohmann::json DecimalField(const std::vector<std::string>& pool, Random& random) {
  const std::string& text = random.Pick(pool);
  if (!random.Percent(25)) return text;
  nlohmann::json number = nlohmann::json::parse(text);
  if (number.is_number_float() && std::floor(number.get<double>()) == number.get<double>()) {
    return text;
  }
  return number;
}

// A list of strings (NULL and texts an array literal must quote among them), an empty list,
// or one string alone (a one-item array).
nlohmann::json TagsValue(const std::vector<std::string>& texts, Random& random) {
  if (random.Percent(20)) return random.Pick(texts);
  nlohmann::json tags = nlohmann::json::array();
  for (size_t n = random.Below(4); n > 0; --n) {
    if (random.Percent(15)) {
      tags.push_back(nullptr);
    } else {
      tags.push_back(random.Percent(50) ? random.Pick(texts) : absl::StrCat("t", random.Below(5)));
    }
  }
  return tags;
}

// A valid value of a payload field (doubles that expose the order of additions, decimals
// with scales that expose rounding and result scales, text that COPY must escape), or NULL
// (missing) now and then.
std::optional<nlohmann::json> FieldValue(const std::string& field, Random& random) {
  static const auto* const kAmounts =
      new std::vector<double>{0.1, 0.2, 0.3, -0.1, 0.7, 1e16, -1e16, 2.5, 1e-7, 123456.789, -3.0};
  static const auto* const kValues = new std::vector<std::string>{
      "0.005", "12345678.125", "-0.5", "1.10", "3", "-2.125", "0.0005", "100", "1e3", "-7.25e-2"};
  // numeric(12,3): rounding half away from zero, and one value that overflows once rounded.
  static const auto* const kPrices = new std::vector<std::string>{
      "0.0005",  "0.0015", "-0.0005", "12345678.125",  "1.2345",
      "-1.2345", "7",      "0.001",   "999999999.999", "999999999.9995"};
  // Increments of price at a finer scale than the column's: the sum is rounded, not the delta.
  static const auto* const kFees =
      new std::vector<std::string>{"0.0005", "-0.0005", "0.0004", "-0.0015", "1", "-1.0005"};
  static const auto* const kTexts = new std::vector<std::string>{
      "",    "tab\there",        "two\nlines",   "back\\slash", "\\.",
      "\\N", "quote's \"both\"", "crème brûlée", "|pipe|",      "trailing space "};
  if (field == "note" && random.Percent(30)) return std::nullopt;
  if (field != "name" && field != "status" && field != "note" && random.Percent(4)) {
    return std::nullopt;
  }
  if ((field == "name" || field == "note") && random.Percent(15)) return random.Pick(*kTexts);
  if (field == "name") return absl::StrCat("name-", random.Below(20));
  if (field == "note") return absl::StrCat("note-", random.Below(20));
  if (field == "status") return random.Pick(std::vector<std::string>{"held", "shipped", "closed"});
  if (field == "amount") return random.Pick(*kAmounts);
  if (field == "value") return DecimalField(*kValues, random);
  if (field == "price") return DecimalField(*kPrices, random);
  if (field == "fee") return DecimalField(*kFees, random);
  if (field == "qty") return random.Pick(std::vector<int>{1, 2, 3, -1, 10});
  if (field == "tags") return TagsValue(*kTexts, random);
  if (field == "meta") {  // objects only: the SQL form reads a string as JSON text
    return nlohmann::json{{"n", random.Below(3)}, {"s", random.Pick(*kTexts)}, {"v", {1, nullptr}}};
  }
  return nullptr;
}

bool Uses(const std::vector<Assignment>& list, const std::string& field) {
  return std::any_of(list.begin(), list.end(),
                     [&](const Assignment& a) { return a.value.field == field; });
}

// Fields that may carry a value no numeric type accepts. In the SQL form such a value fails
// when it is bound, whatever the row; in the action form only where it is used. So only a
// field that every handler of the event either ignores or reads into a numeric column (never
// a text, text[] or jsonb one, which take these values, or a string as JSON text) both
// when the row is absent (insert or set) and when it is present (set or increment) is
// corrupted: its event is then refused in every form.
std::vector<std::string> CorruptibleFields(const Model& model, const EventType& event) {
  std::vector<std::string> out;
  for (size_t f = 1; f < event.fields.size(); ++f) {
    const std::string& field = event.fields[f];
    bool ok = true;
    for (const ProjectorSpec& p : model.projectors) {
      for (const HandlerSpec& h : p.handlers) {
        if (h.event != event.name) continue;
        const Operation& op = h.op;
        bool on_text = false;
        for (const auto* list : {&op.insert, &op.set, &op.update, &op.increment}) {
          for (const Assignment& a : *list) {
            on_text |= a.value.field == field && !IsNumeric(model.column(a.column).kind);
          }
        }
        const bool used = Uses(op.insert, field) || Uses(op.set, field) || Uses(op.update, field) ||
                          Uses(op.increment, field);
        const bool when_absent = Uses(op.insert, field) || Uses(op.set, field);
        const bool when_present =
            Uses(op.set, field) || Uses(op.update, field) || Uses(op.increment, field);
        ok &= !used || (!on_text && when_absent && when_present);
      }
    }
    if (ok) out.push_back(field);
  }
  return out;
}

struct HistoryShape {
  int events = 0;
  int keys = 0;                // few: each key is created, changed, deleted and re-created often
  size_t refused_percent = 0;  // events with a NULL key, and as many with a corrupt value
};

const EventType& PickEvent(const Model& model, Random& random) {
  size_t total = 0;
  for (const EventType& e : model.events) total += e.weight;
  size_t at = random.Below(total);
  for (const EventType& e : model.events) {
    if (at < e.weight) return e;
    at -= e.weight;
  }
  return model.events.back();
}

std::vector<StoredEvent> GenerateHistory(const Model& model, uint64_t seed, HistoryShape shape) {
  Random random(seed);
  const std::vector<nlohmann::json> corrupt = {"abc", "", "1.2.3", true, {{"x", 1}}};
  std::vector<StoredEvent> history;
  for (int i = 0; i < shape.events; ++i) {
    const std::string key =
        random.Percent(5) ? random.Pick(std::vector<std::string>{kLongestKey, kOverlongKey, ""})
                          : absl::StrCat("k", random.Below(static_cast<size_t>(shape.keys)));
    StoredEvent e;
    if (random.Percent(4)) {  // an unknown type, or a version above the current one
      e.category = random.Pick(model.aggregates).second;
      e.stream = absl::StrCat(e.category, "-", key);
      e.type = random.Percent(50) ? "Diff.Mystery.v1" : "Diff.OrderPlaced.v2";
      e.data = {{"id", key}, {"order_id", key}, {"name", "ghost"}};
      history.push_back(std::move(e));
      continue;
    }
    const EventType& type = PickEvent(model, random);
    e.category = model.category(type.aggregate);
    e.stream = absl::StrCat(e.category, "-", key);
    e.type = TypeString(type.name);
    e.data = nlohmann::json::object();
    e.data[type.fields[0]] = key;
    for (size_t f = 1; f < type.fields.size(); ++f) {
      std::optional<nlohmann::json> v = FieldValue(type.fields[f], random);
      if (v) e.data[type.fields[f]] = std::move(*v);
    }
    if (random.Percent(shape.refused_percent)) {  // refused: the key is missing (or null)
      if (random.Percent(50)) {
        e.data.erase(type.fields[0]);
      } else {
        e.data[type.fields[0]] = nullptr;
      }
    } else if (std::vector<std::string> fields = CorruptibleFields(model, type);
               !fields.empty() && random.Percent(shape.refused_percent)) {  // no number reads it
      e.data[random.Pick(fields)] = random.Pick(corrupt);
    }
    history.push_back(std::move(e));
  }
  return history;
}

// One form for most handlers and another one for 1 (most often), 2, 3 or 5 handlers drawn at
// random: an SQL-form projection with one action-form delete, an action-form one with two
// SQL-form handlers, and so on.
FormAssignment RandomForms(const Model& model, size_t renderers, uint64_t seed) {
  Random random(seed);
  const size_t dominant = random.Below(renderers);
  FormAssignment forms;
  size_t handlers = 0;
  for (const ProjectorSpec& p : model.projectors) {
    forms.emplace_back(p.handlers.size(), dominant);
    handlers += p.handlers.size();
  }
  const size_t minority = std::min(handlers, random.Pick(std::vector<size_t>{1, 1, 1, 2, 3, 5}));
  for (size_t changed = 0; changed < minority;) {
    size_t at = random.Below(handlers), p = 0;
    while (at >= forms[p].size()) at -= forms[p++].size();
    if (forms[p][at] != dominant) continue;
    forms[p][at] = (dominant + 1 + random.Below(renderers - 1)) % renderers;
    ++changed;
  }
  return forms;
}

FormAssignment UniformForms(const Model& model, size_t form) {
  FormAssignment forms;
  for (const ProjectorSpec& p : model.projectors) forms.emplace_back(p.handlers.size(), form);
  return forms;
}

// A random assignment, then every form for every handler.
std::vector<FormAssignment> RandomAndUniformForms(const Model& model, size_t renderers,
                                                  uint64_t seed) {
  std::vector<FormAssignment> all = {RandomForms(model, renderers, seed)};
  for (size_t form = 0; form < renderers; ++form) all.push_back(UniformForms(model, form));
  return all;
}

// Every assignment of forms to handlers (renderers ^ handlers of them).
std::vector<FormAssignment> AllForms(const Model& model, size_t renderers) {
  std::vector<FormAssignment> all = {UniformForms(model, 0)};
  while (true) {
    FormAssignment next = all.back();  // counts in base `renderers`
    size_t p = 0, h = 0;
    for (; p < next.size(); ++p) {
      for (h = 0; h < next[p].size(); ++h) {
        if (++next[p][h] < renderers) break;
        next[p][h] = 0;
      }
      if (h < next[p].size()) break;
    }
    if (p == next.size()) return all;
    all.push_back(std::move(next));
  }
}

// ---- The reference: every event applied on its own, in order ----

// The JSON value a source reads; nullptr for a missing field or JSON null.
const nlohmann::json* SourceJson(const nlohmann::json& data, const Source& source) {
  const nlohmann::json* v = &source.literal;
  if (!source.field.empty()) {
    auto it = data.find(source.field);
    if (it == data.end()) return nullptr;
    v = &*it;
  }
  return v->is_null() ? nullptr : v;
}

// The text of a value as the engine reads it (a missing field or JSON null: nullopt). Numbers
// are read as nlohmann::json writes them: the event store's jsonb keeps their value and scale.
std::optional<std::string> ValueText(const nlohmann::json& data, const Source& source) {
  const nlohmann::json* v = SourceJson(data, source);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  return v->dump();
}

// A text[] literal of a JSON value: an array's items (null items NULL), any other value one
// item; every item quoted. The test's lists are flat.
std::string TextArrayLiteral(const nlohmann::json& value) {
  std::vector<std::string> items;
  for (const nlohmann::json& item : value.is_array() ? value : nlohmann::json::array({value})) {
    if (item.is_null()) {
      items.push_back("NULL");
      continue;
    }
    const std::string text = item.is_string() ? item.get<std::string>() : item.dump();
    items.push_back("\"" + absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"\"", "\\\""}}) + "\"");
  }
  return "{" + absl::StrJoin(items, ",") + "}";
}

template <typename T>
std::optional<T> ParseExact(const std::string& text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// numeric(p, s): rounded to s; nullopt when the integer digits exceed p - s.
std::optional<ScaledDecimal> ApplyTypmod(const Column& column, const ScaledDecimal& d) {
  if (column.precision < 0) return d;
  ScaledDecimal r = Rescale(d, column.scale);
  if ((r.units < 0 ? -r.units : r.units) >= Pow10(column.precision)) return std::nullopt;
  return r;
}

// The value `text` assigned to `column` gives; nullopt when the type refuses it. (text[] and
// jsonb columns: AssignedCell.)
std::optional<Cell> Coerce(const Column& column, const std::optional<std::string>& text) {
  if (!text) return Cell();
  switch (column.kind) {
    case Kind::kText:  // ASCII text: bytes are characters
      if (column.max_length >= 0 && static_cast<int>(text->size()) > column.max_length) {
        return std::nullopt;  // value too long for type character varying(n)
      }
      return Cell(*text);
    case Kind::kFloat8:
      if (auto v = ParseExact<double>(*text)) return Cell(*v);
      return std::nullopt;
    case Kind::kBigint:
      if (auto v = ParseExact<int64_t>(*text)) return Cell(*v);
      return std::nullopt;
    case Kind::kNumeric:
      if (auto d = ParseNumeric(*text)) {
        if (auto r = ApplyTypmod(column, *d)) return Cell(*r);
      }
      return std::nullopt;
    case Kind::kTextArray:
    case Kind::kJsonb:
      break;
  }
  return std::nullopt;
}

// The value `source` assigned to `column` gives: a text[] column takes a JSON array as its
// items and another value as one item, a jsonb column the JSON value itself (as text, which
// PostgreSQL reads back); nullopt when the column's type refuses it.
std::optional<Cell> AssignedCell(const Column& column, const nlohmann::json& data,
                                 const Source& source) {
  const nlohmann::json* v = SourceJson(data, source);
  if (v != nullptr && column.kind == Kind::kTextArray) return Cell(TextArrayLiteral(*v));
  if (v != nullptr && column.kind == Kind::kJsonb) return Cell(v->dump());
  return Coerce(column, ValueText(data, source));
}

// current (NULL as 0) + delta, or - delta when `subtract`; nullopt when refused (NULL or
// invalid delta, overflow).
std::optional<Cell> AddTo(const Column& column, const Cell& current,
                          const std::optional<std::string>& delta, bool subtract) {
  std::optional<Cell> d = delta ? Coerce(Column{.kind = column.kind}, delta) : std::nullopt;
  if (!d) return std::nullopt;
  switch (column.kind) {
    case Kind::kFloat8: {
      const double* a = std::get_if<double>(&current);
      const double b = std::get<double>(*d);
      const double sum = subtract ? (a ? *a : 0.0) - b : (a ? *a : 0.0) + b;
      if (std::isinf(sum)) return std::nullopt;
      return Cell(sum);
    }
    case Kind::kBigint: {
      const int64_t* a = std::get_if<int64_t>(&current);
      int64_t sum = 0;
      const int64_t b = std::get<int64_t>(*d);
      if (subtract ? __builtin_sub_overflow(a ? *a : 0, b, &sum)
                   : __builtin_add_overflow(a ? *a : 0, b, &sum)) {
        return std::nullopt;
      }
      return Cell(sum);
    }
    case Kind::kNumeric: {
      const ScaledDecimal* a = std::get_if<ScaledDecimal>(&current);
      ScaledDecimal b = std::get<ScaledDecimal>(*d);
      if (subtract) b.units = -b.units;
      std::optional<ScaledDecimal> sum =
          ApplyTypmod(column, AddNumeric(a ? *a : ScaledDecimal(), b));
      if (!sum) return std::nullopt;
      return Cell(*sum);
    }
    case Kind::kText:
    case Kind::kTextArray:
    case Kind::kJsonb:
      break;
  }
  return std::nullopt;
}

class ReferenceApplier {
 public:
  using Row = std::vector<Cell>;
  explicit ReferenceApplier(Model model) : model_(std::move(model)) {}

  // Per listening projector, in declaration order: an unresolvable type is skipped, a known
  // type without a handler is dispatched, a handler's event is dispatched when the handler
  // accepts it and skipped (with no effect) when it refuses it.
  void Apply(const StoredEvent& e) {
    const EventType* type = nullptr;
    for (const EventType& t : model_.events) {
      if (TypeString(t.name) == e.type) type = &t;
    }
    for (const ProjectorSpec& p : model_.projectors) {
      bool listens = false;
      for (const std::string& a : p.aggregates) listens |= model_.category(a) == e.category;
      if (!listens) continue;
      if (type == nullptr) {
        ++skipped_;
        continue;
      }
      const HandlerSpec* handler = nullptr;
      for (const HandlerSpec& h : p.handlers) {
        if (h.event == type->name) handler = &h;
      }
      if (handler == nullptr || ApplyOperation(handler->op, e.data)) {
        ++dispatched_;
      } else {
        ++skipped_;
      }
    }
  }

  const std::map<std::string, Row>& rows() const { return rows_; }
  int64_t dispatched() const { return dispatched_; }
  int64_t skipped() const { return skipped_; }

 private:
  size_t ColumnIndex(const std::string& name) const {
    for (size_t c = 0; c < model_.columns.size(); ++c) {
      if (model_.columns[c].name == name) return c;
    }
    return 0;
  }

  // False when the handler refuses the event (the rows are then unchanged).
  bool ApplyOperation(const Operation& op, const nlohmann::json& data) {
    std::optional<std::string> key = ValueText(data, Field(op.key_field));
    if (!key) return false;
    auto it = rows_.find(*key);
    if (op.remove) {
      if (it != rows_.end()) rows_.erase(it);
      return true;
    }
    Row row;
    if (it == rows_.end()) {
      if (op.insert.empty() && op.set.empty()) return true;
      for (const Column& c : model_.columns) row.push_back(c.default_value);
      std::optional<Cell> k = Coerce(model_.columns[0], key);
      if (!k) return false;
      row[0] = std::move(*k);
    } else {
      row = it->second;
    }
    for (const auto* list : {&op.insert, &op.set, &op.update}) {
      if (list == &op.insert && it != rows_.end()) continue;
      if (list == &op.update && it == rows_.end()) continue;  // update needs a present row
      for (const Assignment& a : *list) {
        const size_t c = ColumnIndex(a.column);
        std::optional<Cell> v = AssignedCell(model_.columns[c], data, a.value);
        if (!v) return false;
        row[c] = std::move(*v);
      }
    }
    for (const Assignment& a : op.increment) {
      if (it == rows_.end()) break;  // increments apply to present rows only
      const size_t c = ColumnIndex(a.column);
      std::optional<Cell> v =
          AddTo(model_.columns[c], row[c], ValueText(data, a.value), a.value.negate);
      if (!v) return false;
      row[c] = std::move(*v);
    }
    rows_[*key] = std::move(row);
    return true;
  }

  const Model model_;
  std::map<std::string, Row> rows_;
  int64_t dispatched_ = 0;
  int64_t skipped_ = 0;
};

// The exact text of a value for a text parameter (float8: shortest round-trip digits).
storage::PgParam CellText(const Cell& cell) {
  if (std::holds_alternative<std::monostate>(cell)) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(&cell)) return *s;
  if (const auto* d = std::get_if<double>(&cell)) {
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), *d);
    return std::string(buffer, end);
  }
  if (const auto* n = std::get_if<ScaledDecimal>(&cell)) return NumericText(*n);
  return absl::StrCat(std::get<int64_t>(cell));
}

// ---- The test ----

// Missing rows (-) and extra rows (+) of `actual`, at most a few of each.
std::string RowDiff(const std::string& expected, const std::string& actual) {
  std::vector<std::string> e = absl::StrSplit(expected, '\n', absl::SkipEmpty());
  std::vector<std::string> a = absl::StrSplit(actual, '\n', absl::SkipEmpty());
  std::set<std::string> es(e.begin(), e.end()), as(a.begin(), a.end());
  std::string out;
  int shown = 0;
  for (const std::string& row : e) {
    if (!as.contains(row) && shown++ < 6) absl::StrAppend(&out, "\n  - ", row);
  }
  for (const std::string& row : a) {
    if (!es.contains(row) && shown++ < 12) absl::StrAppend(&out, "\n  + ", row);
  }
  return out;
}

// The rebuild's skip reasons, with their counts and first positions.
std::string SkipReasons(const rebuild::RebuildResult& result) {
  std::vector<std::string> out;
  for (const rebuild::SkipReason& r : result.skip_reasons) {
    out.push_back(absl::StrCat(r.count, " x ", r.projector, " ", r.event_type, ": ", r.reason,
                               " (first at ", absl::StrJoin(r.first_positions, ", "), ")"));
  }
  return absl::StrJoin(out, "; ");
}

// Both strategies x batch sizes 1, 7, 500 x row-cache budgets of one byte, a handful of rows
// and the default: all 18, or `points` of them drawn at random, the strategies alternating.
std::vector<rebuild::RebuildOptions> Matrix(size_t points = 0, uint64_t seed = 0) {
  std::vector<rebuild::RebuildOptions> per_strategy[2];
  for (rebuild::Strategy strategy : {rebuild::Strategy::kAtomic, rebuild::Strategy::kInplace}) {
    for (int batch : {1, 7, 500}) {
      for (int64_t budget :
           {int64_t{1}, kHandfulOfRowsBytes, rebuild::RebuildOptions().row_cache_bytes}) {
        rebuild::RebuildOptions& options =
            per_strategy[strategy == rebuild::Strategy::kAtomic ? 0 : 1].emplace_back();
        options.strategy = strategy;
        options.batch_size = batch;
        options.row_cache_bytes = budget;
        if (batch == 500) options.apply_slice_events = 13;  // batches dispatched in slices
      }
    }
  }
  std::vector<rebuild::RebuildOptions> matrix;
  if (points == 0) {
    for (const auto& options : per_strategy)
      matrix.insert(matrix.end(), options.begin(), options.end());
    return matrix;
  }
  Random random(seed);
  const size_t first = random.Below(2);
  for (size_t i = 0; i < points && i < 18; ++i) {
    std::vector<rebuild::RebuildOptions>& from = per_strategy[(first + i) % 2];
    std::swap(from[i / 2], from[i / 2 + random.Below(from.size() - i / 2)]);
    matrix.push_back(from[i / 2]);
  }
  return matrix;
}

int64_t MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

class DifferentialTest : public RebuildFixture {
 protected:
  struct Outcome {
    int runs = 0;
    int differing = 0;
    size_t rows = 0;  // left by the reference
    int64_t skipped = 0;
  };

  void SetUp() override {
    RebuildFixture::SetUp();
    // Skipped events are expected by the hundred: the engine's lines for them are noise here.
    spdlog::set_level(spdlog::level::critical);
    renderers_.push_back(std::make_unique<ActionRenderer>());
    renderers_.push_back(std::make_unique<SqlRenderer>());
    renderers_.push_back(std::make_unique<LuaRenderer>());
  }
  void TearDown() override { spdlog::set_level(spdlog::level::info); }

  // Every row as the text of a record (NULL and '' told apart, quotes and separators
  // escaped), by key.
  std::string DumpSql(const Model& model, const std::string& table) {
    return absl::StrCat("SELECT t::text FROM ", table, " t ORDER BY t.", model.columns[0].name,
                        " COLLATE \"C\"");
  }

  // An empty event store, and the projection's table made anew for `model`. The test creates
  // it (domain.toml's `columns` declare types only, not the DEFAULTs the model needs).
  absl::Status Reset(const Model& model) {
    for (const char* sql : {"DELETE FROM message_store.messages", "DROP TABLE IF EXISTS orders",
                            "DROP TABLE IF EXISTS expected_orders"}) {
      auto r = conn_->Exec(sql);
      if (!r.ok()) return r.status();
    }
    return storage::CreateTable(*conn_, "", kTable, Declared(model), model.columns[0].name);
  }

  static std::vector<std::pair<std::string, std::string>> Declared(const Model& model) {
    std::vector<std::pair<std::string, std::string>> declared;
    for (const Column& c : model.columns) declared.emplace_back(c.name, c.type_sql);
    return declared;
  }

  // The reference's rows in a table of the projection's schema, dumped by the same query as
  // the rebuilt table: PostgreSQL prints float8 with the shortest exact digits and numeric
  // with its scale, so equal text is equal values.
  absl::StatusOr<std::string> MaterialiseAndDump(const Model& model,
                                                 const ReferenceApplier& reference) {
    std::vector<std::string> names, placeholders;
    for (const Column& c : model.columns) {
      names.push_back(c.name);
      placeholders.push_back(absl::StrCat("$", names.size()));
    }
    auto dropped = conn_->Exec(absl::StrCat("DROP TABLE IF EXISTS ", kExpectedTable));
    if (!dropped.ok()) return dropped.status();
    absl::Status created =
        storage::CreateTable(*conn_, "", kExpectedTable, Declared(model), model.columns[0].name);
    if (!created.ok()) return created;
    const std::string insert =
        absl::StrCat("INSERT INTO ", kExpectedTable, " (", absl::StrJoin(names, ", "), ") VALUES (",
                     absl::StrJoin(placeholders, ", "), ")");
    for (const auto& [key, row] : reference.rows()) {
      std::vector<storage::PgParam> params;
      for (const Cell& cell : row) params.push_back(CellText(cell));
      auto r = conn_->ExecParams(insert, params);
      if (!r.ok()) return r.status();
    }
    return Dump(DumpSql(model, kExpectedTable));
  }

  domain::Domain BuildDomain(const Model& model, const FormAssignment& forms) {
    domain::Domain d;
    d.name = d.camel_case_name = "Diff";
    d.normalized_name = "diff";
    d.source_file = "(differential test)";
    d.event_store = {"message_db", uri_};
    d.databases.push_back({"default", "postgresql", uri_, ""});
    for (const auto& [name, category] : model.aggregates) d.aggregates.push_back({name, category});
    for (const EventType& e : model.events) AddEvent(d, e.name, e.aggregate);
    domain::Projection orders;
    orders.name = "Orders";
    orders.key = model.columns[0].name;
    orders.table = orders.cache_prefix = kTable;
    orders.database = "default";
    d.projections.push_back(orders);
    for (size_t p = 0; p < model.projectors.size(); ++p) {
      const ProjectorSpec& spec = model.projectors[p];
      domain::Projector projector;
      projector.name = spec.name;
      projector.projector_for = "Orders";
      for (const std::string& a : spec.aggregates)
        projector.categories.push_back(model.category(a));
      for (size_t h = 0; h < spec.handlers.size(); ++h) {
        auto handler =
            renderers_[forms[p][h]]->Render(model, spec.handlers[h].event, spec.handlers[h].op);
        EXPECT_TRUE(handler.ok()) << handler.status();
        if (handler.ok()) projector.handlers.push_back(std::move(*handler));
      }
      d.projectors.push_back(std::move(projector));
    }
    d.BuildTypeIndex();
    return d;
  }

  // Rebuilds with `options`; false (and a failure naming `context`) when the rows or the
  // counts differ from the reference's.
  bool RunOnce(const Model& model, const ReferenceApplier& reference, const std::string& expected,
               const rebuild::RebuildOptions& options, const std::string& context) {
    const std::string run = absl::StrCat(
        context,
        "\n  strategy=", options.strategy == rebuild::Strategy::kAtomic ? "atomic" : "inplace",
        " batch_size=", options.batch_size, " row_cache_bytes=", options.row_cache_bytes);
    auto result = Rebuild("Orders", options);
    if (!result.ok()) {
      ADD_FAILURE() << run << "\n  rebuild failed: " << result.status();
      return false;
    }
    const std::string actual = Dump(DumpSql(model, kTable));
    const bool same = result->success() && !result->partial &&
                      result->events_dispatched == reference.dispatched() &&
                      result->events_skipped == reference.skipped() && actual == expected;
    EXPECT_TRUE(same) << run << "\n  errors: " << absl::StrJoin(result->errors, "; ")
                      << "\n  dispatched " << result->events_dispatched << " (expected "
                      << reference.dispatched() << "), skipped " << result->events_skipped
                      << " (expected " << reference.skipped() << ")"
                      << "\n  skip reasons: " << SkipReasons(*result)
                      << "\n  rows missing (-) and unexpected (+):" << RowDiff(expected, actual);
    return same;
  }

  struct Run {
    size_t assignment = 0;
    rebuild::RebuildOptions options;
    int prefix = 0;  // events of the history in the store
  };

  // Each form assignment x the whole matrix, or `matrix_points` of it drawn at random, each
  // over the whole history or, when `random_prefixes`, a random prefix of it; shortest first.
  static std::vector<Run> PlanRuns(uint64_t seed, int events, size_t assignments,
                                   size_t matrix_points, bool random_prefixes) {
    std::vector<Run> runs;
    Random random(seed);
    for (size_t i = 0; i < assignments; ++i) {
      for (const rebuild::RebuildOptions& options : Matrix(matrix_points, seed * 1000 + i)) {
        const int prefix = random_prefixes
                               ? 1 + static_cast<int>(random.Below(static_cast<size_t>(events)))
                               : events;
        runs.push_back({i, options, prefix});
      }
    }
    std::stable_sort(runs.begin(), runs.end(),
                     [](const Run& a, const Run& b) { return a.prefix < b.prefix; });
    return runs;
  }

  // Rebuilds `history` (or its prefixes) as `runs` say, comparing each run with the reference
  // applier fed the same events. A prefix catches a wrong row before later events of its key
  // hide it (a lost delete followed by a delete).
  Outcome Check(const Model& model, const std::vector<StoredEvent>& history,
                const std::vector<FormAssignment>& assignments, const std::vector<Run>& runs,
                const std::string& description) {
    Outcome outcome;
    ReferenceApplier reference(model);
    absl::Status reset = Reset(model);
    EXPECT_TRUE(reset.ok()) << reset;
    int written = 0;
    std::string expected;
    for (const Run& run : runs) {
      if (written < run.prefix) {
        for (; written < run.prefix; ++written) {
          const StoredEvent& e = history[written];
          auto stored = WriteMessage(*conn_, e.stream, e.type, e.data.dump());
          EXPECT_TRUE(stored.ok()) << stored.status();
          reference.Apply(e);
        }
        absl::StatusOr<std::string> dumped = MaterialiseAndDump(model, reference);
        EXPECT_TRUE(dumped.ok()) << dumped.status();
        if (!dumped.ok() || ::testing::Test::HasFatalFailure()) return outcome;
        expected = *std::move(dumped);
      }
      domain_ = BuildDomain(model, assignments[run.assignment]);
      ++outcome.runs;
      const bool same = RunOnce(
          model, reference, expected, run.options,
          absl::StrCat(description, ", rebuilt over its first ", run.prefix, " events\n  forms: ",
                       Describe(model, assignments[run.assignment], renderers_)));
      outcome.differing += same ? 0 : 1;
    }
    outcome.rows = reference.rows().size();
    outcome.skipped = reference.skipped();
    return outcome;
  }

  // Check over the history of `seed`.
  Outcome CheckHistory(const Model& model, uint64_t seed, HistoryShape shape,
                       const std::vector<FormAssignment>& assignments, size_t matrix_points,
                       bool random_prefixes, const std::string& reproduce) {
    return Check(model, GenerateHistory(model, seed, shape), assignments,
                 PlanRuns(seed, shape.events, assignments.size(), matrix_points, random_prefixes),
                 absl::StrCat("seed=", seed, ": ", shape.events, " events over ", shape.keys,
                              " keys (reproduce: ", reproduce, ")"));
  }

  std::vector<std::unique_ptr<HandlerRenderer>> renderers_;
};

class LongHistoryTest : public DifferentialTest, public ::testing::WithParamInterface<uint64_t> {};

// A few long histories, each under a random form assignment, all-action and all-SQL, and the
// whole matrix. Odd seeds have refused events; even ones none, so that no SQL-form failure
// sends the atomic strategy's epochs into their per-event replay and the row cache's fast
// path carries the whole history.
TEST_P(LongHistoryTest, RebuildEqualsPerEventApplication) {
  const uint64_t seed = GetParam();
  const auto started = std::chrono::steady_clock::now();
  const Model model = MakeModel(/*varchar_key=*/seed % 2 == 1);
  const HistoryShape shape{.events = 300, .keys = 8, .refused_percent = seed % 2 == 1 ? 2u : 0u};
  Outcome outcome =
      CheckHistory(model, seed, shape, RandomAndUniformForms(model, renderers_.size(), seed),
                   /*matrix_points=*/0, /*random_prefixes=*/false,
                   absl::StrCat("--gtest_filter=*LongHistory*Seed", seed));
  EXPECT_EQ(outcome.runs, static_cast<int>(renderers_.size() + 1) * 18);
  // The history exercises what it should: rows left, skipped events.
  EXPECT_GT(outcome.rows, 0u);
  EXPECT_GT(outcome.skipped, 0);
  std::cout << "[ seed " << seed << " ] " << outcome.runs << " runs, " << outcome.differing
            << " differing, " << MillisecondsSince(started) << " ms\n";
}

INSTANTIATE_TEST_SUITE_P(Seeds, LongHistoryTest, ::testing::Values(1, 2, 3),
                         [](const ::testing::TestParamInfo<uint64_t>& info) {
                           return absl::StrCat("Seed", info.param);
                         });

// Many short histories over fewer keys, each under random form assignments, each at a random
// point of the matrix: the start of a replay (the table just emptied, the first fetches and
// flushes) is met many times over, and a wrong row is rarely overwritten by later events.
TEST_F(DifferentialTest, ShortHistoriesRebuildEqualsPerEventApplication) {
  constexpr uint64_t kFirstSeed = 1001, kHistories = 30;
  constexpr size_t kForms = 6;
  const auto started = std::chrono::steady_clock::now();
  Outcome total;
  for (uint64_t seed = kFirstSeed; seed < kFirstSeed + kHistories; ++seed) {
    const Model model = MakeModel(/*varchar_key=*/seed % 2 == 1);
    std::vector<FormAssignment> assignments;
    for (size_t i = 0; i < kForms; ++i) {
      assignments.push_back(RandomForms(model, renderers_.size(), seed * 1000 + i));
    }
    const HistoryShape shape{.events = 40, .keys = 4, .refused_percent = seed % 2 == 1 ? 2u : 0u};
    Outcome outcome = CheckHistory(model, seed, shape, assignments, /*matrix_points=*/1,
                                   /*random_prefixes=*/true, "--gtest_filter=*ShortHistories*");
    total.runs += outcome.runs;
    total.differing += outcome.differing;
  }
  EXPECT_EQ(total.runs, static_cast<int>(kHistories * kForms));
  std::cout << "[ short    ] " << kHistories << " histories, " << total.runs << " runs, "
            << total.differing << " differing, " << MillisecondsSince(started) << " ms\n";
}

// One projector under every assignment of forms to its five handlers (3^5 = 243 with the
// action, SQL and Lua forms), over short histories and their prefixes, one history with a
// varchar key and one without, each assignment at one point of the matrix drawn at random
// (strategy, batch size, row-cache budget). The histories have no refused events: in the SQL
// form one sends the atomic strategy's epoch into its event-by-event replay, which would
// redo what the row cache did at the start of the replay (the other histories have them).
TEST_F(DifferentialTest, EveryFormAssignmentOfOneProjector) {
  constexpr uint64_t kFirstSeed = 2001, kHistories = 2;
  constexpr size_t kMatrixPoints = 1;
  const auto started = std::chrono::steady_clock::now();
  Outcome total;
  size_t assignments = 0;
  for (uint64_t seed = kFirstSeed; seed < kFirstSeed + kHistories; ++seed) {
    const Model model = MakeSingleProjectorModel(/*varchar_key=*/seed % 2 == 1);
    const std::vector<FormAssignment> all = AllForms(model, renderers_.size());
    assignments = all.size();
    const HistoryShape shape{.events = 20, .keys = 4, .refused_percent = 0};
    Outcome outcome =
        CheckHistory(model, seed, shape, all, kMatrixPoints,
                     /*random_prefixes=*/true, "--gtest_filter=*EveryFormAssignment*");
    total.runs += outcome.runs;
    total.differing += outcome.differing;
  }
  EXPECT_EQ(assignments, static_cast<size_t>(std::pow(renderers_.size(), 5)));
  EXPECT_EQ(total.runs, static_cast<int>(kHistories * assignments * kMatrixPoints));
  std::cout << "[ every    ] " << kHistories << " histories x " << assignments << " assignments, "
            << total.runs << " runs, " << total.differing << " differing, "
            << MillisecondsSince(started) << " ms\n";
}

// The shortest history that shows an over-long key of a varchar(n) key column applied to
// another row: PostgreSQL refuses the key on INSERT (value too long) and a comparison with it
// matches no row, so the second event is skipped and the third does nothing.
TEST_F(DifferentialTest, OverlongKeyOfAVarcharKeyColumnTouchesNoOtherRow) {
  const Model model = MakeSingleProjectorModel(/*varchar_key=*/true);
  auto event = [](std::string type, nlohmann::json data) {
    return StoredEvent{"diff::order", "diff::order-1", TypeString(type), std::move(data)};
  };
  const std::vector<StoredEvent> history = {
      event("OrderPlaced", {{"id", kLongestKey}, {"name", "first"}, {"price", "1"}}),
      event("OrderPlaced", {{"id", kOverlongKey}, {"name", "second"}, {"price", "2"}}),
      event("OrderCancelled", {{"id", kOverlongKey}}),
  };
  const std::vector<FormAssignment> forms = {UniformForms(model, 0), UniformForms(model, 1),
                                             UniformForms(model, 2)};
  Outcome outcome =
      Check(model, history, forms, PlanRuns(0, 3, forms.size(), 0, false), "a history of 3 events");
  EXPECT_EQ(outcome.rows, 1u);
  EXPECT_EQ(outcome.skipped, 1);
  EXPECT_EQ(outcome.differing, 0) << "of " << outcome.runs << " runs";
}

// ---- Set-based SQL waves (server/rebuild/sql_waves.h) against per-event execution ----
//
// Random histories over a projection whose SQL-form handlers the engine runs set-based: set
// to EXCLUDED, increments with coalesce (a double and a numeric(12,2), a CAST), a WHERE in DO
// UPDATE, a parameter typed by its JSON value (concat(:memo, ...): text or numeric per event,
// so a wave holds several variants), two projectors writing the same key from one event, and
// a DELETE that is not recognized (a barrier). Some events fail (an amount that is not a
// number, a name too long for varchar(16), an over-long key, an increment past numeric(12,2)):
// the wave fails and its epoch is replayed one event at a time. Each history is rebuilt with
// every statement per event (the reference: the engine before waves) and then set-based
// under both strategies and several batch sizes: the same rows (text of each record, so
// doubles and numerics bit-exact), the same dispatched and skipped counts, and events that did
// run set-based.

// The events, aggregates and table of both domains below.
constexpr char kAccountsDomain[] = R"toml(
[domains.w.domain]
name = "Wave"
[domains.w.event_store]
provider = "message_db"
database_uri = "${DATABASE_URL}"
[domains.w.databases.default]
provider = "postgresql"
database_uri = "${DATABASE_URL}"
[domains.w.aggregates.Account]
[domains.w.aggregates.Deposit]
[domains.w.events.Opened]
aggregate = "Account"
[domains.w.events.Renamed]
aggregate = "Account"
[domains.w.events.Closed]
aggregate = "Account"
[domains.w.events.Deposited]
aggregate = "Deposit"
[domains.w.projections.Accounts]
key = "id"
table = "accounts"
columns = { id = "varchar(12)", name = "varchar(16)", balance = "double precision", total = "numeric(12,2)", hits = "integer", note = "text" }

)toml";

std::string WavesDomain() {
  return std::string(kAccountsDomain) + R"toml(
[domains.w.projectors.Ledger]
projector_for = "Accounts"
aggregates = ["Account", "Deposit"]
[domains.w.projectors.Ledger.on.Opened]
sql = "INSERT INTO accounts (id, name, balance, hits) VALUES (:id, :name, 0, 0) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, balance = EXCLUDED.balance"
[domains.w.projectors.Ledger.on.Deposited]
sql = "INSERT INTO accounts AS a (id, balance, total, hits) VALUES (:id, CAST(:amount AS double precision), :cents, 1) ON CONFLICT (id) DO UPDATE SET balance = coalesce(a.balance, 0) + EXCLUDED.balance, total = coalesce(a.total, 0) + EXCLUDED.total, hits = coalesce(a.hits, 0) + 1"
[domains.w.projectors.Ledger.on.Renamed]
sql = "INSERT INTO accounts (id, name) VALUES (:id, :name) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, note = concat(accounts.note, '>', EXCLUDED.name) WHERE accounts.name IS DISTINCT FROM EXCLUDED.name"
[domains.w.projectors.Ledger.on.Closed]
sql = "DELETE FROM accounts WHERE id = :id"

[domains.w.projectors.Memo]
projector_for = "Accounts"
aggregates = ["Deposit"]
[domains.w.projectors.Memo.on.Deposited]
sql = "INSERT INTO accounts (id, note) VALUES (:id, concat(:memo, ';')) ON CONFLICT (id) DO UPDATE SET note = coalesce(accounts.note, '') || EXCLUDED.note"
)toml";
}

// The same events through statements that run in memory, folded like the action form
// (server/rebuild/sql_lowering.h), mixed with a DELETE that runs as SQL: an insert-only
// value read for every event (total, numeric(12,2), fails past its precision even when the
// row exists), NULL amounts (coalesce(balance, 0) + NULL is NULL), DO NOTHING, a literal
// update.
std::string FoldDomain() {
  return std::string(kAccountsDomain) + R"toml(
[domains.w.projectors.Ledger]
projector_for = "Accounts"
aggregates = ["Account", "Deposit"]
[domains.w.projectors.Ledger.on.Opened]
sql = "INSERT INTO accounts (id, name, balance, hits) VALUES (:id, :name, 0, 0) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, balance = EXCLUDED.balance"
[domains.w.projectors.Ledger.on.Deposited]
sql = "INSERT INTO accounts AS a (id, balance, hits, total) VALUES (:id, CAST(:amount AS double precision), 1, :cents) ON CONFLICT (id) DO UPDATE SET balance = coalesce(a.balance, 0) + EXCLUDED.balance, hits = coalesce(a.hits, 0) + EXCLUDED.hits"
[domains.w.projectors.Ledger.on.Renamed]
sql = "INSERT INTO accounts (id, name) VALUES (:id, :name) ON CONFLICT (id) DO NOTHING"
[domains.w.projectors.Ledger.on.Closed]
sql = "DELETE FROM accounts WHERE id = :id"

[domains.w.projectors.Memo]
projector_for = "Accounts"
aggregates = ["Deposit"]
[domains.w.projectors.Memo.on.Deposited]
sql = "INSERT INTO accounts (id, note, hits) VALUES (:id, :memo, 0) ON CONFLICT (id) DO UPDATE SET note = EXCLUDED.note, hits = 7"
)toml";
}

class SqlWavesDifferentialTest : public RebuildFixture {
 protected:
  void SetUp() override {
    RebuildFixture::SetUp();
    spdlog::set_level(spdlog::level::critical);
    Load(WavesDomain());
  }
  void Load(const std::string& toml) {
    domain::LoadOptions options;
    options.getenv = [this](std::string_view name) -> std::optional<std::string> {
      if (name == "DATABASE_URL") return uri_;
      return std::nullopt;
    };
    auto loaded = domain::ParseDomain(toml, "domain.toml", "w", options);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    domain_ = *std::move(loaded);
  }
  void TearDown() override { spdlog::set_level(spdlog::level::info); }

  // `events` events over `keys` keys; with `failures`, about one in 25 fails.
  void WriteHistory(uint64_t seed, int events, int keys, bool failures) {
    std::mt19937_64 random(seed);
    auto below = [&](int n) { return static_cast<int>(random() % static_cast<uint64_t>(n)); };
    for (int e = 0; e < events; ++e) {
      std::string id = absl::StrCat("k", below(keys));
      const bool fail = failures && below(25) == 0;
      const int what = below(10);
      if (what < 5) {
        nlohmann::json memo = below(2) == 0 ? nlohmann::json(absl::StrCat("m", e))
                                            : nlohmann::json(below(1000) / 8.0);
        nlohmann::json amount = below(1000) / 7.0 - 40;
        nlohmann::json cents = absl::StrCat(below(100000) - 20000, ".", below(1000));
        if (below(15) == 0) amount = nullptr;                          // balance becomes NULL
        if (below(15) == 0) amount = absl::StrCat(below(100), ".25");  // a decimal string
        if (below(40) == 0) id = "k-0123456789   ";  // varchar(12) drops the excess spaces
        if (fail) {
          switch (below(3)) {
            case 0:
              amount = "abc";
              break;
            case 1:
              cents = "99999999999.99";  // past numeric(12,2)
              break;
            default:
              id = "k-0123456789-overlong";
          }
        }
        Write("wave::deposit-" + id, "Wave.Deposited.v1",
              {{"id", id}, {"amount", amount}, {"cents", cents}, {"memo", memo}});
        continue;
      }
      std::string name = absl::StrCat("n", below(4));
      if (below(20) == 0) name = "sixteen-chars-ab   ";  // varchar(16): spaces dropped
      if (fail) name = "a-name-longer-than-sixteen";
      const char* type = what < 7   ? "Wave.Opened.v1"
                         : what < 9 ? "Wave.Renamed.v1"
                                    : "Wave.Closed.v1";
      Write("wave::account-" + id, type, {{"id", id}, {"name", name}});
    }
  }

  // Rebuilds with `options`; the rows dumped, or "" after a failure.
  std::string RebuildAndDump(const rebuild::RebuildOptions& options, int64_t& dispatched,
                             int64_t& skipped, int64_t& set_based, int64_t* in_memory = nullptr) {
    auto result = Rebuild("Accounts", options);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return "";
    EXPECT_TRUE(result->success()) << absl::StrJoin(result->errors, "; ");
    dispatched = result->events_dispatched;
    skipped = result->events_skipped;
    set_based = result->sql_set_based_events;
    if (in_memory != nullptr) *in_memory = result->sql_in_memory_events;
    return Dump("SELECT t::text FROM accounts t ORDER BY t.id COLLATE \"C\"");
  }

  // The history's rows per event, then set-based and in memory at every point of the matrix.
  // `waves`: some statements run set-based.
  void Compare(uint64_t seed, int events, int keys, bool failures, bool waves = true) {
    ASSERT_TRUE(conn_->Exec("DELETE FROM message_store.messages").ok());
    WriteHistory(seed, events, keys, failures);
    rebuild::RebuildOptions per_event;
    per_event.sql_set_based = false;
    per_event.sql_in_memory = false;
    int64_t dispatched = 0, skipped = 0, set_based = 0;
    const std::string expected = RebuildAndDump(per_event, dispatched, skipped, set_based);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(set_based, 0);
    if (failures) {
      EXPECT_GT(skipped, 0) << "seed " << seed;
    }
    for (rebuild::Strategy strategy : {rebuild::Strategy::kAtomic, rebuild::Strategy::kInplace}) {
      for (int batch : {1, 3, 7, 64, 500}) {
        rebuild::RebuildOptions options;
        options.strategy = strategy;
        options.batch_size = batch;
        options.apply_slice_events = batch == 64 ? 5 : 512;  // batches dispatched in slices
        options.sql_epoch_events = 40;  // several epochs, so a failure replays only its own
        int64_t d = 0, s = 0, waved = 0, in_memory = 0;
        const std::string actual = RebuildAndDump(options, d, s, waved, &in_memory);
        const std::string where = absl::StrCat(
            "seed ", seed, ", ", events, " events over ", keys, " keys, ",
            strategy == rebuild::Strategy::kAtomic ? "atomic" : "inplace", ", batch ", batch);
        EXPECT_EQ(actual, expected) << where;
        EXPECT_EQ(d, dispatched) << where;
        EXPECT_EQ(s, skipped) << where;
        // With failures, a long batch fills its epoch, which fails and is replayed per event.
        if (waves && batch > 1 && (!failures || batch <= 7)) {
          EXPECT_GT(waved, 0) << where;
        }
        EXPECT_GT(in_memory, 0) << where;  // Opened's statement runs in memory in both domains
      }
    }
  }
};

TEST_F(SqlWavesDifferentialTest, SetBasedWavesEqualPerEventExecution) {
  for (uint64_t seed = 1; seed <= 4; ++seed) Compare(seed, 300, seed % 2 == 0 ? 6 : 40, false);
}

TEST_F(SqlWavesDifferentialTest, FailingEventsAreSkippedAsPerEvent) {
  for (uint64_t seed = 11; seed <= 14; ++seed) Compare(seed, 300, seed % 2 == 0 ? 6 : 40, true);
}

TEST_F(SqlWavesDifferentialTest, InMemoryStatementsEqualPerEventExecution) {
  Load(FoldDomain());
  for (uint64_t seed = 21; seed <= 24; ++seed) {
    Compare(seed, 300, seed % 2 == 0 ? 6 : 40, seed % 2 == 1, /*waves=*/false);
  }
}

}  // namespace
}  // namespace protean_admin::testing
