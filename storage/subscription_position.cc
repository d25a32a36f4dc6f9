#include "storage/subscription_position.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace protean_admin::storage {

std::string PositionStreamName(std::string_view subscriber, std::string_view category) {
  return absl::StrCat("position-", std::string(subscriber), "-", std::string(category));
}

absl::Status WriteReadPosition(PgConnection& conn, std::string_view subscriber,
                               std::string_view category, int64_t position) {
  // Message DB's functions refer to their table unqualified: the search_path must include
  // message_store for this call only (SET LOCAL inside a transaction, reset after otherwise).
  auto r = conn.ExecParams(
      "WITH m AS (SELECT gen_random_uuid()::text AS id, "
      "to_char(now() AT TIME ZONE 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') AS t) "
      "SELECT message_store.write_message(m.id, $1::text, 'Read', "
      "jsonb_build_object('position', $2::bigint), "
      "jsonb_build_object('headers', jsonb_build_object('id', m.id, 'type', 'Read', "
      "'time', m.t, 'stream', $1::text), "
      "'domain', jsonb_build_object('kind', 'READ_POSITION', 'origin_stream', $3::text))) "
      "FROM m",
      {PositionStreamName(subscriber, category), absl::StrCat(position), std::string(category)});
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::StatusOr<std::optional<int64_t>> ReadLastPosition(PgConnection& conn,
                                                        std::string_view subscriber,
                                                        std::string_view category) {
  ASSIGN_OR_RETURN(std::optional<PositionRecord> record,
                   ReadLastPositionRecord(conn, subscriber, category));
  if (!record.has_value()) return std::optional<int64_t>();
  return std::optional<int64_t>(record->position);
}

absl::StatusOr<std::optional<PositionRecord>> ReadLastPositionRecord(PgConnection& conn,
                                                                     std::string_view subscriber,
                                                                     std::string_view category) {
  auto r = conn.ExecParams(
      "SELECT (data->>'position')::bigint, "
      "(extract(epoch FROM time) * 1000)::bigint FROM message_store.messages "
      "WHERE stream_name = $1 ORDER BY position DESC LIMIT 1",
      {PositionStreamName(subscriber, category)});
  if (!r.ok()) return r.status();
  if (r->rows() == 0 || r->IsNull(0, 0)) return std::optional<PositionRecord>();
  PositionRecord record;
  record.position = std::strtoll(std::string(r->Get(0, 0)).c_str(), nullptr, 10);
  record.time_unix_ms = std::strtoll(std::string(r->Get(0, 1)).c_str(), nullptr, 10);
  return std::optional<PositionRecord>(record);
}

absl::StatusOr<int64_t> CountMessagesAfter(PgConnection& conn, std::string_view category,
                                           int64_t after) {
  auto r = conn.ExecParams(
      "SELECT count(*) FILTER (WHERE type <> 'SNAPSHOT') FROM message_store.messages "
      "WHERE message_store.category(stream_name) = $1 AND global_position > $2::bigint",
      {std::string(category), absl::StrCat(after)});
  if (!r.ok()) return r.status();
  return static_cast<int64_t>(std::strtoll(std::string(r->Get(0, 0)).c_str(), nullptr, 10));
}

}  // namespace protean_admin::storage
