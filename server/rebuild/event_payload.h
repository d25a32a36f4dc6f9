#ifndef PROTEAN_ADMIN_SERVER_REBUILD_EVENT_PAYLOAD_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_EVENT_PAYLOAD_H_

// The payload of one stored message as handlers read it: upcast when stored at an old
// version, then parameters (":field.sub", ":$attribute") extracted with simdjson.

#include <simdjson.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/model.h"
#include "storage/message_reader.h"

namespace protean_admin::rebuild {

// A parameter's value. `text` is the unescaped string, the number as written, "true" /
// "false", or the JSON text of an object or array.
struct Datum {
  enum class Kind { kNull, kString, kNumber, kBool, kJson };
  Kind kind = Kind::kNull;
  std::string text;

  bool is_null() const { return kind == Kind::kNull; }
  std::optional<std::string> AsCell() const {
    return is_null() ? std::nullopt : std::optional<std::string>(text);
  }
};

// The datum of an action-form literal (a JSON value from domain.toml).
Datum LiteralDatum(const nlohmann::json& literal);

// The JSON pointer of a payload path: {"a", "b/c"} -> "/a/b~1c".
std::string JsonPointer(const std::vector<std::string>& path);

class EventPayload {
 public:
  // Loads one message's payload (applying `resolution.chain` when not empty). Errors:
  // InvalidArgument for a payload that is not valid JSON or cannot be upcast.
  absl::Status Load(const storage::MessageRef& message, const domain::Resolution& resolution);

  // The loaded payload's JSON text (upcast when it was; empty for a NULL payload), valid
  // until the next Load.
  std::string_view Json() const {
    return empty_ ? std::string_view() : std::string_view(buffer_.data(), length_);
  }

  // Parameters are remembered by address (their JSON pointer is cached): they must outlive
  // this object.
  absl::StatusOr<Datum> Get(const domain::Parameter& parameter);

 private:
  simdjson::ondemand::parser parser_;
  simdjson::ondemand::document doc_;
  std::string buffer_;  // the JSON text, then simdjson's padding
  size_t length_ = 0;   // of the JSON text
  std::unordered_map<const domain::Parameter*, std::string> pointers_;
  bool empty_ = true;
  const storage::MessageRef* message_ = nullptr;
  int stored_version_ = 0;
};

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_EVENT_PAYLOAD_H_
