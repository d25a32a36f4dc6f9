#ifndef PROTEAN_ADMIN_STORAGE_SUBSCRIPTION_POSITION_H_
#define PROTEAN_ADMIN_STORAGE_SUBSCRIPTION_POSITION_H_

// Protean subscription positions (docs/protean-compatibility.md §4): stream
// "position-{subscriber}-{category}", type "Read", data {"position": N}; the last record wins.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/pg_connection.h"

namespace protean_admin::storage {

std::string PositionStreamName(std::string_view subscriber, std::string_view category);

// Appends a Read record with message_store.write_message on `conn` (which must reach the
// event store; runs in whatever transaction the connection is in).
absl::Status WriteReadPosition(PgConnection& conn, std::string_view subscriber,
                               std::string_view category, int64_t position);

// What the server would resume from: the position of the last record, nullopt when none.
absl::StatusOr<std::optional<int64_t>> ReadLastPosition(PgConnection& conn,
                                                        std::string_view subscriber,
                                                        std::string_view category);

// The last record of a position stream: its position and when it was written.
struct PositionRecord {
  int64_t position = 0;
  int64_t time_unix_ms = 0;  // the message's `time` (UTC), milliseconds since the Unix epoch
};

// The last record of position-{subscriber}-{category}, nullopt when the stream is empty.
absl::StatusOr<std::optional<PositionRecord>> ReadLastPositionRecord(PgConnection& conn,
                                                                     std::string_view subscriber,
                                                                     std::string_view category);

// Messages of `category` whose global position is above `after` (SNAPSHOT rows excluded, as
// in SnapshotHead): what a subscription at `after` has still to read. One index range scan.
absl::StatusOr<int64_t> CountMessagesAfter(PgConnection& conn, std::string_view category,
                                           int64_t after);

}  // namespace protean_admin::storage

#endif  // PROTEAN_ADMIN_STORAGE_SUBSCRIPTION_POSITION_H_
