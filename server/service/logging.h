#ifndef PROTEAN_ADMIN_SERVER_SERVICE_LOGGING_H_
#define PROTEAN_ADMIN_SERVER_SERVICE_LOGGING_H_

// Daemon logging through spdlog, as text or as JSON lines. Structured records (LogRecord)
// carry fields: in text they read `message key=value ...`, in JSON they are keys of the
// record beside "time", "level" and "msg". Plain spdlog calls from any layer are formatted
// the same way (JSON-escaped in JSON mode).

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <string>

namespace protean_admin::service {

enum class LogFormat { kText, kJson };

// Installs the default logger (stderr) with the format.
void ConfigureLogging(LogFormat format);

// Formats one record's payload the way the installed formatter expects (exposed for tests).
std::string EncodeRecord(const std::string& message, const nlohmann::json& fields);
// Renders an encoded payload as text ("message key=value ...") or as the JSON members
// after "msg" (`"msg":"...","key":value`).
std::string RenderText(const std::string& payload);
std::string RenderJsonMembers(const std::string& payload);

void LogRecord(spdlog::level::level_enum level, const std::string& message,
               const nlohmann::json& fields);

}  // namespace protean_admin::service

#endif  // PROTEAN_ADMIN_SERVER_SERVICE_LOGGING_H_
