#include "server/service/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <memory>

namespace protean_admin::service {
namespace {

// Separates the message from its JSON fields inside a log payload.
constexpr char kFieldSeparator = '\x1f';

std::string Payload(const spdlog::details::log_msg& msg) {
  return std::string(msg.payload.data(), msg.payload.size());
}

class TextFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string text = RenderText(Payload(msg));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextFlag>();
  }
};

class JsonFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string text = RenderJsonMembers(Payload(msg));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonFlag>();
  }
};

}  // namespace

std::string EncodeRecord(const std::string& message, const nlohmann::json& fields) {
  return message + kFieldSeparator + fields.dump();
}

std::string RenderText(const std::string& payload) {
  size_t sep = payload.find(kFieldSeparator);
  if (sep == std::string::npos) return payload;
  std::string out = payload.substr(0, sep);
  nlohmann::json fields = nlohmann::json::parse(payload.substr(sep + 1), nullptr, false);
  if (!fields.is_object()) return out;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    out += ' ';
    out += it.key();
    out += '=';
    if (it.value().is_string()) {
      const std::string& s = it.value().get_ref<const std::string&>();
      bool quote = s.empty() || s.find_first_of(" \"=") != std::string::npos;
      out += quote ? nlohmann::json(s).dump() : s;
    } else {
      out += it.value().dump();
    }
  }
  return out;
}

std::string RenderJsonMembers(const std::string& payload) {
  size_t sep = payload.find(kFieldSeparator);
  std::string message = sep == std::string::npos ? payload : payload.substr(0, sep);
  std::string out = "\"msg\":" + nlohmann::json(message).dump(
                                     -1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (sep == std::string::npos) return out;
  nlohmann::json fields = nlohmann::json::parse(payload.substr(sep + 1), nullptr, false);
  if (!fields.is_object()) return out;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    out += ',' + nlohmann::json(it.key()).dump() + ':' +
           it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return out;
}

void ConfigureLogging(LogFormat format) {
  auto logger = std::make_shared<spdlog::logger>("protean-admind",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == LogFormat::kJson) {
    formatter->add_flag<JsonFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n",%*})");
  } else {
    formatter->add_flag<TextFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %*");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void LogRecord(spdlog::level::level_enum level, const std::string& message,
               const nlohmann::json& fields) {
  spdlog::log(level, "{}", EncodeRecord(message, fields));
}

}  // namespace protean_admin::service
