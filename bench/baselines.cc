#include "bench/baselines.h"

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace protean_admin::bench {
namespace {

using storage::PgConnection;
using storage::PgParam;
using storage::PgResult;

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int64_t ToInt(std::string_view text) {
  return std::strtoll(std::string(text).c_str(), nullptr, 10);
}

absl::StatusOr<int64_t> CountRows(PgConnection& conn, std::string_view table) {
  auto count = conn.Exec(absl::StrCat("SELECT count(*) FROM ", conn.QuoteIdentifier(table)));
  if (!count.ok()) return count.status();
  return ToInt(count->Get(0, 0));
}

// The shortest text that reads back as exactly `value` (PostgreSQL parses it correctly
// rounded, so the stored double is bit-identical).
std::string DoubleText(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, end);
}

std::optional<double> JsonNumber(const nlohmann::json& data, const char* field) {
  auto it = data.find(field);
  if (it == data.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

}  // namespace

absl::Status CreateBalancesTable(PgConnection& conn, std::string_view table) {
  std::string t = conn.QuoteIdentifier(table);
  auto created = conn.Exec(absl::StrCat(
      "DROP TABLE IF EXISTS ", t, "; CREATE TABLE ", t,
      " (user_id varchar(255) PRIMARY KEY, name varchar(255), balance double precision)"));
  return created.status();
}

absl::StatusOr<int64_t> NthEventPosition(PgConnection& conn, const BankNames& names, int64_t n) {
  auto result = conn.ExecParams(
      "SELECT max(global_position) FROM (SELECT global_position FROM message_store.messages "
      "WHERE message_store.category(stream_name) IN ($1, $2) ORDER BY global_position "
      "LIMIT $3) s",
      {names.user_category, names.transaction_category, std::to_string(n)});
  if (!result.ok()) return result.status();
  if (result->IsNull(0, 0)) return 0;
  return ToInt(result->Get(0, 0));
}

absl::StatusOr<int64_t> CountEvents(PgConnection& conn, const BankNames& names,
                                    std::optional<int64_t> head) {
  auto result = conn.ExecParams(
      "SELECT count(*) FROM message_store.messages WHERE message_store.category(stream_name) "
      "IN ($1, $2) AND global_position <= $3",
      {names.user_category, names.transaction_category, std::to_string(head.value_or(INT64_MAX))});
  if (!result.ok()) return result.status();
  return ToInt(result->Get(0, 0));
}

std::string FloorSql(std::string_view table, FloorForm form, bool bounded) {
  // $1 user category, $2 transaction category, $3 Registered, $4 Transacted.v1,
  // $5 Transacted.v2, $6 head (bounded only).
  std::string bound = bounded ? " AND global_position <= $6" : "";
  std::string amount =
      "CASE type WHEN $5 THEN (data->>'amount')::float8\n"
      "                     ELSE (data->>'amt')::float8 END";  // v1: amt -> amount
  std::string sums;
  if (form == FloorForm::kOrderedAggregate) {
    sums = absl::StrCat(
        "      SELECT data->>'user_id' AS user_id,\n"
        "             sum(",
        amount,
        "\n"
        "                 ORDER BY global_position) AS balance\n"
        "        FROM message_store.messages\n"
        "       WHERE message_store.category(stream_name) = $2 AND type IN ($4, $5)",
        bound, "\n       GROUP BY 1");
  } else {
    sums = absl::StrCat(
        "      SELECT user_id, sum(amount) AS balance\n"
        "        FROM (SELECT data->>'user_id' AS user_id,\n"
        "                     ",
        amount,
        " AS amount\n"
        "                FROM message_store.messages\n"
        "               WHERE message_store.category(stream_name) = $2 AND type IN ($4, $5)",
        bound, "\n               ORDER BY global_position) e\n       GROUP BY 1");
  }
  return absl::StrCat(
      "INSERT INTO ", std::string(table),
      " (user_id, name, balance)\n"
      "SELECT coalesce(r.user_id, t.user_id), coalesce(r.name, ''), coalesce(t.balance, 0)\n"
      "FROM (SELECT data->>'user_id' AS user_id, data->>'name' AS name\n"
      "        FROM message_store.messages\n"
      "       WHERE message_store.category(stream_name) = $1 AND type = $3",
      bound, ") r\nFULL JOIN (\n", sums, ") t ON t.user_id = r.user_id");
}

absl::StatusOr<Timing> RunSetBasedFloor(PgConnection& conn, const BankNames& names,
                                        std::string_view table, FloorForm form,
                                        std::optional<int64_t> head) {
  std::vector<PgParam> params = {names.user_category, names.transaction_category, names.registered,
                                 names.transacted_v1, names.transacted_v2};
  if (head) params.push_back(std::to_string(*head));
  std::string t = conn.QuoteIdentifier(table);
  auto start = std::chrono::steady_clock::now();
  // Serial plan (a parallel aggregate would add in another order) and enough memory for
  // the hash table of every user.
  auto begun = conn.Exec(absl::StrCat(
      "BEGIN; SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL work_mem = '256MB'; "
      "TRUNCATE ",
      t));
  if (!begun.ok()) return begun.status();
  auto inserted = conn.ExecParams(FloorSql(t, form, head.has_value()), params);
  if (!inserted.ok()) {
    (void)conn.Exec("ROLLBACK");
    return inserted.status();
  }
  auto committed = conn.Exec("COMMIT");
  if (!committed.ok()) return committed.status();
  Timing timing;
  timing.seconds = Since(start);
  timing.rows = inserted->AffectedRows();
  auto events = CountEvents(conn, names, head);
  if (!events.ok()) return events.status();
  timing.events = *events;
  return timing;
}

absl::StatusOr<Timing> RunPerEventReplay(PgConnection& conn, const BankNames& names,
                                         std::string_view table, int64_t head) {
  std::string t = conn.QuoteIdentifier(table);
  auto truncated = conn.Exec(absl::StrCat("TRUNCATE ", t));
  if (!truncated.ok()) return truncated.status();
  const std::string select_sql =
      absl::StrCat("SELECT user_id, name, balance FROM ", t, " WHERE user_id = $1");
  const std::string insert_sql =
      absl::StrCat("INSERT INTO ", t, " (user_id, name, balance) VALUES ($1, $2, $3)");
  const std::string update_sql =
      absl::StrCat("UPDATE ", t, " SET name = $2, balance = $3 WHERE user_id = $1");

  auto start = std::chrono::steady_clock::now();
  // Protean loads the events of the projector's categories, then handles them one by one,
  // each in its own unit of work.
  auto events = conn.ExecParams(
      "SELECT type, data::text FROM message_store.messages "
      "WHERE message_store.category(stream_name) IN ($1, $2) AND global_position <= $3 "
      "ORDER BY global_position",
      {names.user_category, names.transaction_category, std::to_string(head)});
  if (!events.ok()) return events.status();
  Timing timing;
  timing.events = events->rows();
  for (int i = 0; i < events->rows(); ++i) {
    std::string_view type = events->Get(i, 0);
    bool registered = type == names.registered;
    bool transacted = type == names.transacted_v1 || type == names.transacted_v2;
    if (!registered && !transacted) continue;  // no handler, or an unknown type: skipped
    nlohmann::json data = nlohmann::json::parse(events->Get(i, 1), nullptr, false);
    if (data.is_discarded() || !data.is_object()) {
      return absl::DataLossError(absl::StrCat("unparsable payload of a ", std::string(type)));
    }
    if (type == names.transacted_v1) {  // upcast v1 -> v2: rename amt, default currency
      if (data.contains("amt")) data["amount"] = data["amt"];
      data.erase("amt");
      if (!data.contains("currency")) data["currency"] = "USD";
    }
    std::string user_id = data.value("user_id", "");

    auto begun = conn.Exec("BEGIN");
    if (!begun.ok()) return begun.status();
    auto row = conn.ExecParams(select_sql, {user_id});
    if (!row.ok()) return row.status();
    bool present = row->rows() == 1;
    absl::StatusOr<PgResult> written;
    if (registered) {
      PgParam name = data.value("name", "");
      written = present ? conn.ExecParams(update_sql, {user_id, name, std::string("0")})
                        : conn.ExecParams(insert_sql, {user_id, name, std::string("0")});
    } else {
      std::optional<double> amount = JsonNumber(data, "amount");
      if (!amount) return absl::DataLossError("a Transacted event without a numeric amount");
      if (present) {
        double balance = row->IsNull(0, 2) ? 0.0 : std::strtod(row->Get(0, 2).data(), nullptr);
        PgParam name = row->IsNull(0, 1) ? PgParam() : PgParam(std::string(row->Get(0, 1)));
        written = conn.ExecParams(update_sql, {user_id, name, DoubleText(balance + *amount)});
      } else {
        written = conn.ExecParams(insert_sql, {user_id, std::string(""), DoubleText(*amount)});
      }
    }
    if (!written.ok()) return written.status();
    auto committed = conn.Exec("COMMIT");
    if (!committed.ok()) return committed.status();
  }
  timing.seconds = Since(start);
  auto rows = CountRows(conn, table);
  if (!rows.ok()) return rows.status();
  timing.rows = *rows;
  return timing;
}

absl::StatusOr<int64_t> CountDifferences(PgConnection& conn, std::string_view a,
                                         std::string_view b) {
  std::string ta = conn.QuoteIdentifier(a), tb = conn.QuoteIdentifier(b);
  std::string cols = "user_id, name, balance";
  auto result = conn.Exec(absl::StrCat("SELECT (SELECT count(*) FROM (SELECT ", cols, " FROM ", ta,
                                       " EXCEPT SELECT ", cols, " FROM ", tb,
                                       ") x) + (SELECT count(*) FROM (SELECT ", cols, " FROM ", tb,
                                       " EXCEPT SELECT ", cols, " FROM ", ta, ") y)"));
  if (!result.ok()) return result.status();
  return ToInt(result->Get(0, 0));
}

}  // namespace protean_admin::bench
