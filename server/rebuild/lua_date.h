#ifndef PROTEAN_ADMIN_SERVER_REBUILD_LUA_DATE_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_LUA_DATE_H_

// The date helper of Lua handlers, deterministic (no clock, locale or time zone database):
//   date.day(meta.time)               -> "2024-05-01"
//   date.month(meta.time)             -> "2024-05"
//   date.format(meta.time, "%Y-%m-%dT%H") -> "2024-05-01T12"
// The time is Message DB's time text ("2024-05-01 12:34:56.789", UTC) or ISO-8601
// ("2024-05-01T12:34:56Z", "2024-05-01T14:34:56+02:00", "2024-05-01"); an offset is
// normalised to UTC. Fractions of a second are accepted and ignored.

#include <lua.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace protean_admin::rebuild {

// The UTC time of `text`. InvalidArgument for anything else, naming the text.
absl::StatusOr<absl::CivilSecond> ParseEventTime(std::string_view text);

// Formats `time` with strftime's %Y %m %d %H %M %S %j (day of the year), %F (%Y-%m-%d),
// %T (%H:%M:%S) and %%; any other conversion is InvalidArgument. Appends to `out`.
absl::Status FormatEventTime(absl::CivilSecond time, std::string_view format, std::string& out);

// Pushes the `date` table (day, month, format), read-only.
void OpenDateLibrary(lua_State* L);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_LUA_DATE_H_
