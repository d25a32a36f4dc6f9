#include "server/rebuild/sql_statements.h"

#include <array>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "server/rebuild/action_values.h"
#include "spdlog/spdlog.h"

namespace protean_admin::rebuild {
namespace {

// Type OIDs of PostgreSQL's built-in types (stable across versions: pg_type.dat).
constexpr uint32_t kBoolOid = 16;
constexpr uint32_t kTextOid = 25;
constexpr uint32_t kJsonOid = 114;
constexpr uint32_t kNumericOid = 1700;
constexpr uint32_t kJsonbOid = 3802;

// What by-value parameters are checked with while planning, in this order: the first that
// lets the statement prepare is also what a NULL value takes.
constexpr std::array<uint32_t, 4> kStandIns = {kTextOid, kNumericOid, kJsonbOid, kBoolOid};

// Variants of one statement; more combinations of value types is an event failure.
constexpr size_t kMaxVariants = 64;

uint32_t TypeOfValue(const Datum& d) {
  switch (d.kind) {
    case Datum::Kind::kNumber:
      return kNumericOid;
    case Datum::Kind::kBool:
      return kBoolOid;
    case Datum::Kind::kJson:
      return kJsonbOid;
    case Datum::Kind::kString:
    case Datum::Kind::kNull:
      break;
  }
  return kTextOid;
}

bool IsJsonArray(const Datum& d) {
  return d.kind == Datum::Kind::kJson && !d.text.empty() && d.text[0] == '[';
}

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The byte offset of the `chars`-th character (0-based) of UTF-8 `text`.
size_t ByteOffset(std::string_view text, int chars) {
  size_t i = 0;
  for (int seen = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (seen++ == chars) return i;
  }
  return text.size();
}

size_t PlaceholderEnd(const domain::SqlStatement& s, size_t i) {
  size_t end = s.offsets[i] + 1;
  while (end < s.text.size() && s.text[end] >= '0' && s.text[end] <= '9') ++end;
  return end;
}

// The unmarked parameters inside the parentheses that follow a function name at `at`.
int MarkArguments(const domain::SqlStatement& s, size_t at, std::vector<bool>& by_value) {
  size_t open = at;
  while (open < s.text.size() && IsWordChar(s.text[open])) ++open;
  while (open < s.text.size() && s.text[open] == ' ') ++open;
  if (open >= s.text.size() || s.text[open] != '(') return 0;
  size_t close = open;
  for (int depth = 0; close < s.text.size(); ++close) {
    if (s.text[close] == '(') ++depth;
    if (s.text[close] == ')' && --depth == 0) break;
  }
  int marked = 0;
  for (size_t i = 0; i < s.offsets.size(); ++i) {
    if (!by_value[i] && s.offsets[i] > open && s.offsets[i] < close) {
      by_value[i] = true;
      ++marked;
    }
  }
  return marked;
}

// The unmarked parameters standing right before and right after the operator at `at`.
int MarkOperands(const domain::SqlStatement& s, size_t at, std::vector<bool>& by_value) {
  auto blank_between = [&](size_t from, size_t to) {
    for (size_t k = from; k < to; ++k) {
      if (s.text[k] != ' ' && s.text[k] != '\t' && s.text[k] != '\n') return false;
    }
    return true;
  };
  size_t op_end = at;
  while (op_end < s.text.size() && !IsWordChar(s.text[op_end]) &&
         std::string_view(" \t\n$()").find(s.text[op_end]) == std::string_view::npos) {
    ++op_end;
  }
  int marked = 0;
  for (size_t i = 0; i < s.offsets.size(); ++i) {
    const bool left = PlaceholderEnd(s, i) <= at && blank_between(PlaceholderEnd(s, i), at);
    const bool right = s.offsets[i] >= op_end && blank_between(op_end, s.offsets[i]);
    if (!by_value[i] && (left || right)) {
      by_value[i] = true;
      ++marked;
    }
  }
  return marked;
}

}  // namespace

bool IsParameterTypingError(const absl::Status& error) {
  const std::string state = storage::SqlState(error);
  if (state == "42P18" || state == "42P08") return true;  // indeterminate, ambiguous parameter
  if (state != "42725" && state != "42883" && state != "42804") return false;
  // Ambiguous or missing function/operator, or a polymorphic type, over untyped parameters.
  return absl::StrContains(storage::PgPrimaryMessage(error), "unknown");
}

int MarkUntypedParameters(const domain::SqlStatement& statement, const absl::Status& error,
                          std::vector<bool>& by_value) {
  const std::string message = storage::PgPrimaryMessage(error);
  if (size_t at = message.find("parameter $"); at != std::string::npos) {
    const size_t number = std::strtoul(message.c_str() + at + 11, nullptr, 10);
    if (number >= 1 && number <= by_value.size() && !by_value[number - 1]) {
      by_value[number - 1] = true;
      return 1;
    }
  }
  if (const int position = storage::PgErrorPosition(error); position > 0) {
    const size_t at = ByteOffset(statement.text, position - 1);
    const int marked = at < statement.text.size() && IsWordChar(statement.text[at])
                           ? MarkArguments(statement, at, by_value)
                           : MarkOperands(statement, at, by_value);
    if (marked > 0) return marked;
  }
  int marked = 0;
  for (size_t i = 0; i < by_value.size(); ++i) {
    if (!by_value[i]) {
      by_value[i] = true;
      ++marked;
    }
  }
  return marked;
}

absl::Status SqlStatements::Plan(const domain::SqlStatement& statement) {
  Typing typing;
  typing.by_value.assign(statement.parameters.size(), false);
  absl::Status as_written;  // the error of the statement as written, if it fails
  while (true) {
    absl::Status s = TryStandIns(statement, typing);
    if (s.ok()) break;
    if (as_written.ok()) as_written = s;
    if (absl::IsUnavailable(s)) return s;
    if (!IsParameterTypingError(s) || MarkUntypedParameters(statement, s, typing.by_value) == 0) {
      return as_written;
    }
  }
  absl::Status s = LoadElementTypes(typing);
  if (!s.ok()) return s;
  typings_[&statement] = std::move(typing);
  return absl::OkStatus();
}

// Prepares the unnamed statement with the by-value parameters given each stand-in type in
// turn. The first error is returned, unless a later one asks for more by-value parameters.
absl::Status SqlStatements::TryStandIns(const domain::SqlStatement& statement, Typing& typing) {
  const bool any_by_value =
      std::find(typing.by_value.begin(), typing.by_value.end(), true) != typing.by_value.end();
  absl::Status first;
  for (uint32_t stand_in : kStandIns) {
    std::vector<uint32_t> types(statement.parameters.size(), 0);
    for (size_t i = 0; i < types.size(); ++i) types[i] = typing.by_value[i] ? stand_in : 0;
    absl::StatusOr<std::vector<uint32_t>> settled = conn_.PrepareTyped("", statement.text, types);
    if (settled.ok()) {
      typing.settled = *std::move(settled);
      typing.stand_in = stand_in;
      return absl::OkStatus();
    }
    if (!any_by_value || absl::IsUnavailable(settled.status()) ||
        IsParameterTypingError(settled.status())) {
      return settled.status();
    }
    if (first.ok()) first = settled.status();
  }
  return first;
}

// Element types of the parameters PostgreSQL typed as arrays.
absl::Status SqlStatements::LoadElementTypes(Typing& typing) {
  typing.element.assign(typing.settled.size(), 0);
  std::string oids;
  for (size_t i = 0; i < typing.settled.size(); ++i) {
    if (!typing.by_value[i]) absl::StrAppend(&oids, oids.empty() ? "" : ",", typing.settled[i]);
  }
  if (oids.empty()) return absl::OkStatus();
  auto rows = conn_.ExecParams(
      "SELECT oid, typelem FROM pg_type WHERE typcategory = 'A' AND oid = ANY($1::oid[])",
      {absl::StrCat("{", oids, "}")});
  if (!rows.ok()) return rows.status();
  for (int r = 0; r < rows->rows(); ++r) {
    const uint32_t oid = std::strtoul(std::string(rows->Get(r, 0)).c_str(), nullptr, 10);
    const uint32_t element = std::strtoul(std::string(rows->Get(r, 1)).c_str(), nullptr, 10);
    for (size_t i = 0; i < typing.settled.size(); ++i) {
      if (!typing.by_value[i] && typing.settled[i] == oid) typing.element[i] = element;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::PipelineCommand> SqlStatements::Bind(const domain::SqlStatement& statement,
                                                             const std::vector<Datum>& values,
                                                             std::vector<uint32_t>* out_types) {
  auto it = typings_.find(&statement);
  if (it == typings_.end()) return absl::InternalError("SQL statement bound before planning");
  Typing& typing = it->second;
  std::vector<uint32_t> types(values.size(), 0);
  std::vector<size_t> lone_items;  // non-array values of array-typed parameters
  storage::PipelineCommand command;
  command.params.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const Datum& d = values[i];
    if (typing.by_value[i]) {
      types[i] = d.is_null() ? typing.stand_in : TypeOfValue(d);
    } else if (typing.element[i] != 0 && IsJsonArray(d)) {
      const bool json = typing.element[i] == kJsonOid || typing.element[i] == kJsonbOid;
      absl::StatusOr<std::string> literal = PgArrayLiteral(d.text, json);
      if (!literal.ok()) return literal.status();
      command.params.push_back(*std::move(literal));
      continue;
    } else if (typing.element[i] != 0 && !d.is_null()) {
      types[i] = typing.element[i];  // one element, e.g. appended with ||
      lone_items.push_back(i);
    }
    command.params.push_back(d.AsCell());
  }
  absl::StatusOr<std::string> name = Variant(statement, typing, types);
  if (!name.ok() && !lone_items.empty()) {
    // Where only an array fits (`SET tags = :tag`), the value is an array of that one item,
    // as the action form writes it.
    for (size_t i : lone_items) {
      ColumnSpec column;
      column.shape = typing.element[i] == kJsonOid || typing.element[i] == kJsonbOid
                         ? ValueShape::kJsonArray
                         : ValueShape::kArray;
      absl::StatusOr<std::string> literal = ActionValueText(column, values[i]);
      if (!literal.ok()) return literal.status();
      command.params[i] = *std::move(literal);
      types[i] = 0;
    }
    absl::StatusOr<std::string> as_array = Variant(statement, typing, types);
    if (as_array.ok()) name = std::move(as_array);
  }
  if (!name.ok()) return name.status();
  command.statement = *std::move(name);
  if (out_types != nullptr) *out_types = std::move(types);
  return command;
}

absl::StatusOr<std::string> SqlStatements::Variant(const domain::SqlStatement& statement,
                                                   Typing& typing,
                                                   const std::vector<uint32_t>& types) {
  auto it = typing.variants.find(types);
  if (it != typing.variants.end()) return it->second;
  if (typing.variants.size() >= kMaxVariants) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", kMaxVariants, " combinations of parameter value types"));
  }
  absl::StatusOr<absl::StatusOr<std::string>> variant = PrepareSaved(statement.text, types);
  if (!variant.ok()) return variant.status();
  typing.variants.emplace(types, *variant);
  return *std::move(variant);
}

absl::StatusOr<absl::StatusOr<std::string>> SqlStatements::PrepareSaved(
    std::string_view text, const std::vector<uint32_t>& types) {
  std::string name = absl::StrCat("pa_sql_", prepared_count_++);
  // A failing prepare would abort the transaction: it runs in a savepoint.
  auto s = conn_.Exec("SAVEPOINT pa_prepare");
  if (!s.ok()) return s.status();
  absl::StatusOr<std::vector<uint32_t>> prepared = conn_.PrepareTyped(name, text, types);
  absl::StatusOr<std::string> variant = name;
  if (prepared.ok()) {
    s = conn_.Exec("RELEASE SAVEPOINT pa_prepare");
  } else {
    if (absl::IsUnavailable(prepared.status())) return prepared.status();
    variant = absl::Status(prepared.status().code(), storage::PgPrimaryMessage(prepared.status()));
    s = conn_.Exec("ROLLBACK TO SAVEPOINT pa_prepare; RELEASE SAVEPOINT pa_prepare");
  }
  if (!s.ok()) return s.status();
  return variant;
}

// ---- Set-based waves (sql_waves.h) ----

namespace {

// What makes rows of one table depend on each other beyond their key, and the key's type.
constexpr char kWaveTableSql[] = R"sql(
SELECT
  (SELECT count(*) FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal),
  (SELECT count(*) FROM pg_rewrite WHERE ev_class = c.oid),
  (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid AND (i.indisunique OR i.indisexclusion)
     AND NOT (i.indnatts = 1 AND i.indkey[0] = a.attnum AND i.indpred IS NULL
              AND i.indexprs IS NULL)),
  (SELECT count(*) FROM pg_constraint WHERE conrelid = c.oid AND confrelid = c.oid),
  (SELECT string_agg(d.attname, ',') FROM pg_attrdef f
     JOIN pg_attribute d ON d.attrelid = f.adrelid AND d.attnum = f.adnum
    WHERE f.adrelid = c.oid AND d.attgenerated = '' AND pg_get_expr(f.adbin, f.adrelid) LIKE '%(%'),
  t.typname, coalesce(k.collisdeterministic, true), a.attnotnull,
  (SELECT count(*) FROM pg_constraint WHERE conrelid = c.oid AND contype IN ('c', 'f', 'x', 't')),
  (SELECT count(*) FROM pg_attribute n WHERE n.attrelid = c.oid AND n.attnum > 0
      AND NOT n.attisdropped AND n.attnotnull AND n.attnum <> a.attnum)
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation k ON k.oid = a.attcollation
WHERE c.oid = to_regclass($1))sql";

}  // namespace

absl::StatusOr<SqlStatements::WaveTable> SqlStatements::LoadWaveTable(
    const storage::TableInfo& table, std::string_view key) {
  WaveTable w;
  auto rows = conn_.ExecParams(kWaveTableSql, {table.qualified, std::string(key)});
  if (!rows.ok()) {
    if (absl::IsUnavailable(rows.status())) return rows.status();
    w.refusal = storage::PgPrimaryMessage(rows.status());
    return w;
  }
  if (rows->rows() != 1) {
    w.refusal = "the table has no key column";
    return w;
  }
  auto count = [&](int column) { return std::string(rows->Get(0, column)); };
  const std::string type(rows->Get(0, 5));
  if (count(0) != "0") w.refusal = "the table has triggers";
  if (count(1) != "0") w.refusal = "the table has rules";
  if (count(2) != "0") w.refusal = "the table has a unique index besides its key's";
  if (count(3) != "0") w.refusal = "the table has a foreign key to itself";
  if (type == "int2" || type == "int4" || type == "int8") {
    w.key_kind = WaveKeyKind::kInteger;
  } else if (type == "varchar") {
    w.key_kind = WaveKeyKind::kVarchar;
  } else if (type != "text") {
    w.refusal = absl::StrCat("the key's type ", type, " is not text, varchar or an integer");
  }
  if (std::string(rows->Get(0, 6)) != "t") w.refusal = "the key's collation is not deterministic";
  for (absl::string_view c : absl::StrSplit(std::string(rows->Get(0, 4)), ',', absl::SkipEmpty())) {
    w.volatile_defaults.emplace_back(absl::AsciiStrToLower(c));
  }
  if (std::string(rows->Get(0, 7)) != "t") w.lowering_refusal = "the key column may be NULL";
  if (count(8) != "0")
    w.lowering_refusal = "the table has CHECK, foreign key or exclusion constraints";
  if (count(9) != "0") w.lowering_refusal = "a column besides the key is NOT NULL";
  return w;
}

absl::StatusOr<std::vector<uint32_t>> SqlStatements::ArrayTypes(
    const std::vector<uint32_t>& types) {
  std::string missing;
  for (uint32_t t : types) {
    if (!array_types_.contains(t)) absl::StrAppend(&missing, missing.empty() ? "" : ",", t);
  }
  if (!missing.empty()) {
    auto rows =
        conn_.ExecParams("SELECT oid, typarray, typdelim FROM pg_type WHERE oid = ANY($1::oid[])",
                         {absl::StrCat("{", missing, "}")});
    if (!rows.ok()) return rows.status();
    for (int r = 0; r < rows->rows(); ++r) {
      ArrayType a;
      a.oid = std::strtoul(std::string(rows->Get(r, 1)).c_str(), nullptr, 10);
      a.delimiter = rows->Get(r, 2).empty() ? ',' : rows->Get(r, 2)[0];
      array_types_[std::strtoul(std::string(rows->Get(r, 0)).c_str(), nullptr, 10)] = a;
    }
  }
  std::vector<uint32_t> arrays;
  for (uint32_t t : types) {
    auto it = array_types_.find(t);
    if (it == array_types_.end() || it->second.oid == 0 || it->second.delimiter != ',') {
      return absl::FailedPreconditionError(absl::StrCat("type ", t, " has no usable array type"));
    }
    arrays.push_back(it->second.oid);
  }
  return arrays;
}

absl::StatusOr<bool> SqlStatements::PlanWave(const domain::SqlStatement& statement,
                                             const storage::TableInfo& table,
                                             std::string_view key) {
  const std::string where = statement.where.empty() ? "a SQL-form statement" : statement.where;
  auto refuse = [&](const std::string& why) {
    spdlog::info("{} runs one event at a time (not set-based: {})", where, why);
    return false;
  };
  auto it = typings_.find(&statement);
  if (it == typings_.end()) return absl::InternalError("SQL statement waved before planning");
  const Typing& typing = it->second;
  std::vector<std::string> columns;
  for (const storage::ColumnInfo& c : table.columns) {
    columns.push_back(absl::AsciiStrToLower(c.name));
  }
  absl::StatusOr<WaveForm> form = RecognizeWaveStatement(statement, table.table, key, columns);
  if (!form.ok()) return refuse(std::string(form.status().message()));
  ASSIGN_OR_RETURN(std::string refusal, TableRefusal(table, key, form->inserted));
  if (!refusal.empty()) return refuse(refusal);
  std::vector<uint32_t> types = typing.settled;
  for (size_t i = 0; i < types.size(); ++i) {
    if (typing.element[i] != 0) return refuse("a parameter of an array type");
    if (typing.by_value[i]) types[i] = typing.stand_in;
  }
  absl::StatusOr<std::vector<uint32_t>> arrays = ArrayTypes(types);
  if (!arrays.ok()) {
    if (absl::IsUnavailable(arrays.status())) return arrays.status();
    return refuse(std::string(arrays.status().message()));
  }
  absl::StatusOr<std::vector<uint32_t>> prepared = conn_.PrepareTyped("", form->text, *arrays);
  if (!prepared.ok()) {
    if (absl::IsUnavailable(prepared.status())) return prepared.status();
    return refuse(storage::PgPrimaryMessage(prepared.status()));
  }
  WaveState& state = waves_[&statement];
  state.wave.key_parameter = form->key_parameter;
  state.wave.key_kind = wave_table_->key_kind;
  state.text = std::move(form->text);
  return true;
}

absl::StatusOr<std::string> SqlStatements::TableRefusal(const storage::TableInfo& table,
                                                        std::string_view key,
                                                        const std::vector<std::string>& inserted) {
  if (!wave_table_.has_value()) {
    ASSIGN_OR_RETURN(wave_table_, LoadWaveTable(table, key));
  }
  if (!wave_table_->refusal.empty()) return wave_table_->refusal;
  for (const std::string& c : wave_table_->volatile_defaults) {
    if (std::find(inserted.begin(), inserted.end(), c) == inserted.end()) {
      return absl::StrCat("the default of column ", c, " calls a function");
    }
  }
  return std::string();
}

absl::StatusOr<std::optional<LoweredHandler>> SqlStatements::PlanLowering(
    const domain::Handler& handler, const storage::TableInfo& table, std::string_view key) {
  const std::string where = handler.where.empty() ? "a SQL-form handler" : handler.where;
  auto refuse = [&](absl::string_view why) -> std::optional<LoweredHandler> {
    spdlog::info("{} does not run in memory: {}", where, std::string(why));
    return std::nullopt;
  };
  absl::StatusOr<LoweredHandler> lowered = LowerSqlHandler(handler, table, key);
  if (!lowered.ok()) return refuse(lowered.status().message());
  auto it = typings_.find(&handler.sql[0]);
  if (it == typings_.end()) return absl::InternalError("SQL statement lowered before planning");
  for (size_t i = 0; i < it->second.settled.size(); ++i) {
    if (it->second.by_value[i] || it->second.element[i] != 0) {
      return refuse(absl::StrCat("parameter $", i + 1, " is not typed by its column"));
    }
  }
  std::vector<std::string> inserted;
  for (const auto* list : {&lowered->action.set, &lowered->action.insert}) {
    for (const auto& [column, value] : *list) inserted.push_back(absl::AsciiStrToLower(column));
  }
  inserted.push_back(absl::AsciiStrToLower(std::string(key)));
  ASSIGN_OR_RETURN(std::string refusal, TableRefusal(table, key, inserted));
  if (refusal.empty()) refusal = wave_table_->lowering_refusal;
  if (!refusal.empty()) return refuse(refusal);
  spdlog::info("{} runs in memory, folded like the action form", where);
  return std::move(*lowered);
}

const SqlStatements::Wave* SqlStatements::WaveOf(const domain::SqlStatement& statement) const {
  auto it = waves_.find(&statement);
  return it == waves_.end() ? nullptr : &it->second.wave;
}

absl::StatusOr<storage::PipelineCommand> SqlStatements::BindWave(
    const domain::SqlStatement& statement, const std::vector<uint32_t>& types,
    const std::vector<const std::vector<storage::PgParam>*>& rows) {
  auto it = waves_.find(&statement);
  auto typing = typings_.find(&statement);
  if (it == waves_.end() || typing == typings_.end()) {
    return absl::InternalError("SQL statement run in waves without planning");
  }
  WaveState& state = it->second;
  std::vector<uint32_t> concrete = types;
  for (size_t i = 0; i < concrete.size(); ++i) {
    if (concrete[i] == 0) concrete[i] = typing->second.settled[i];
  }
  auto variant = state.variants.find(concrete);
  if (variant == state.variants.end()) {
    ASSIGN_OR_RETURN(std::vector<uint32_t> arrays, ArrayTypes(concrete));
    ASSIGN_OR_RETURN(absl::StatusOr<std::string> name, PrepareSaved(state.text, arrays));
    variant = state.variants.emplace(concrete, std::move(name)).first;
  }
  if (!variant->second.ok()) return variant->second.status();
  storage::PipelineCommand command;
  command.statement = *variant->second;
  std::vector<const storage::PgParam*> column(rows.size());
  for (size_t p = 0; p < concrete.size(); ++p) {
    for (size_t r = 0; r < rows.size(); ++r) column[r] = &(*rows[r])[p];
    command.params.emplace_back(WaveArrayLiteral(column));
  }
  return command;
}

}  // namespace protean_admin::rebuild
