#ifndef PROTEAN_ADMIN_CLIENT_STATUS_OUTPUT_H_
#define PROTEAN_ADMIN_CLIENT_STATUS_OUTPUT_H_

// What `protean-admin status` prints: Protean's `protean projection status` table, or with
// --json Protean's result envelope (one object on stdout; docs/design.md "Projection status").

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "protean/admin/v1/admin.pb.h"

namespace protean_admin::client {

namespace pb = ::protean::admin::v1;

// The version of Protean's result envelope this CLI writes.
inline constexpr char kEnvelopeVersion[] = "0.1.0";

// "2026-06-27T12:00:00+00:00" (Python's isoformat of an aware UTC time: ".ffffff" only when
// the milliseconds are not 0).
std::string IsoUtc(int64_t unix_ms);

// One projection as Protean's ProjectionStatus.to_dict(): projection_name, projectors,
// last_updated, staleness_seconds, lag, row_count, status (null where unset).
nlohmann::json ProjectionStatusJson(const pb::ProjectionStatusEntry& entry);

// {"version": "0.1.0", "status": "pass", "data": {"projections": [...]}, "diagnostics": [...]}
// with one {"projection", "message"} diagnostic per line the daemon reported.
nlohmann::json StatusEnvelope(const pb::ProjectionStatusResponse& response);

// The envelope of a status that could not be taken: status "error", data {"error": message,
// "code": "NOT_FOUND"...}.
nlohmann::json StatusErrorEnvelope(const std::string& message, const std::string& code);

// The table: header, one row per projection, a blank line and the summary ("2 projection(s),
// 1 ok, 1 lagging"), then "note: [P] ..." per diagnostic. "No projections found in domain."
// when there is none.
std::vector<std::string> StatusTable(const pb::ProjectionStatusResponse& response);

}  // namespace protean_admin::client

#endif  // PROTEAN_ADMIN_CLIENT_STATUS_OUTPUT_H_
