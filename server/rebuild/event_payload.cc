#include "server/rebuild/event_payload.h"

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "domain/upcasters.h"

namespace protean_admin::rebuild {
namespace {

// A message attribute ($global_position, $stream_name, ...) as a Datum.
Datum AttributeDatum(const storage::MessageRef& m, domain::MessageAttribute attribute,
                     int stored_version) {
  Datum d;
  switch (attribute) {
    case domain::MessageAttribute::kGlobalPosition:
      d.kind = Datum::Kind::kNumber;
      d.text = absl::StrCat(m.GlobalPosition());
      break;
    case domain::MessageAttribute::kPosition:
      d.kind = Datum::Kind::kNumber;
      d.text = absl::StrCat(m.Position());
      break;
    case domain::MessageAttribute::kStreamName:
      d.kind = Datum::Kind::kString;
      d.text = std::string(m.StreamName());
      break;
    case domain::MessageAttribute::kStreamId: {
      std::string_view name = m.StreamName();
      size_t dash = name.find('-');
      d.kind = Datum::Kind::kString;
      d.text = dash == std::string_view::npos ? "" : std::string(name.substr(dash + 1));
      break;
    }
    case domain::MessageAttribute::kType:
      d.kind = Datum::Kind::kString;
      d.text = std::string(m.Type());
      break;
    case domain::MessageAttribute::kVersion:
      d.kind = Datum::Kind::kNumber;
      d.text = absl::StrCat(stored_version);
      break;
    case domain::MessageAttribute::kTime:
      d.kind = Datum::Kind::kString;
      d.text = std::string(m.Time());
      break;
    case domain::MessageAttribute::kMessageId:
      d.kind = Datum::Kind::kString;
      d.text = std::string(m.Id());
      break;
  }
  return d;
}

// A JSON value of the payload as a Datum (null for JSON null); errors name the parameter.
absl::StatusOr<Datum> ValueDatum(simdjson::ondemand::value v, const domain::Parameter& parameter) {
  Datum d;
  simdjson::ondemand::json_type type;
  if (auto e = v.type().get(type); e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", parameter.text, ": ", simdjson::error_message(e)));
  }
  switch (type) {
    case simdjson::ondemand::json_type::null:
      return d;
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s); e) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot read ", parameter.text, ": ", simdjson::error_message(e)));
      }
      d.kind = Datum::Kind::kString;
      d.text = std::string(s);
      return d;
    }
    case simdjson::ondemand::json_type::number:
      d.kind = Datum::Kind::kNumber;
      d.text = std::string(StripTrailingAsciiWhitespace(v.raw_json_token()));
      return d;
    case simdjson::ondemand::json_type::boolean: {
      bool b = false;
      if (auto e = v.get_bool().get(b); e) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot read ", parameter.text, ": ", simdjson::error_message(e)));
      }
      d.kind = Datum::Kind::kBool;
      d.text = b ? "true" : "false";
      return d;
    }
    case simdjson::ondemand::json_type::object:
    case simdjson::ondemand::json_type::array: {
      std::string_view raw;
      if (auto e = simdjson::to_json_string(v).get(raw); e) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot read ", parameter.text, ": ", simdjson::error_message(e)));
      }
      d.kind = Datum::Kind::kJson;
      d.text = std::string(raw);
      return d;
    }
  }
  return d;
}

}  // namespace

Datum LiteralDatum(const nlohmann::json& literal) {
  Datum d;
  if (literal.is_null()) return d;
  if (literal.is_string()) {
    d.kind = Datum::Kind::kString;
    d.text = literal.get<std::string>();
  } else if (literal.is_boolean()) {
    d.kind = Datum::Kind::kBool;
    d.text = literal.get<bool>() ? "true" : "false";
  } else if (literal.is_number()) {
    d.kind = Datum::Kind::kNumber;
    d.text = literal.dump();
  } else {
    d.kind = Datum::Kind::kJson;
    d.text = literal.dump();
  }
  return d;
}

std::string JsonPointer(const std::vector<std::string>& path) {
  std::string out;
  for (const std::string& segment : path) {
    out += '/';
    for (char c : segment) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
  }
  return out;
}

absl::Status EventPayload::Load(const storage::MessageRef& message,
                                const domain::Resolution& resolution) {
  message_ = &message;
  stored_version_ = resolution.stored_version;
  empty_ = message.DataIsNull();
  if (empty_) return absl::OkStatus();
  if (resolution.chain.empty()) {
    std::string_view data = message.Data();
    buffer_.assign(data.data(), data.size());
  } else {
    nlohmann::json payload;
    try {
      payload = nlohmann::json::parse(message.Data());
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("payload is not valid JSON: ", e.what()));
    }
    absl::Status upcast = domain::ApplyUpcasters(resolution.chain, payload);
    if (!upcast.ok()) return upcast;
    buffer_ = payload.dump();
  }
  size_t length = buffer_.size();
  length_ = length;
  buffer_.resize(length + simdjson::SIMDJSON_PADDING);
  auto doc = parser_.iterate(buffer_.data(), length, buffer_.size());
  if (doc.error()) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload is not valid JSON: ", simdjson::error_message(doc.error())));
  }
  doc_ = std::move(doc.value_unsafe());
  return absl::OkStatus();
}

absl::StatusOr<Datum> EventPayload::Get(const domain::Parameter& parameter) {
  if (parameter.attribute) {
    return AttributeDatum(*message_, *parameter.attribute, stored_version_);
  }
  Datum d;
  if (empty_) return d;
  auto pointer = pointers_.find(&parameter);
  if (pointer == pointers_.end()) {
    pointer = pointers_.emplace(&parameter, JsonPointer(parameter.path)).first;
  }
  auto value = doc_.at_pointer(pointer->second);
  simdjson::error_code error = value.error();
  if (error == simdjson::NO_SUCH_FIELD || error == simdjson::INCORRECT_TYPE ||
      error == simdjson::INDEX_OUT_OF_BOUNDS || error == simdjson::INVALID_JSON_POINTER) {
    return d;
  }
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", parameter.text, ": ", simdjson::error_message(error)));
  }
  return ValueDatum(value.value_unsafe(), parameter);
}

}  // namespace protean_admin::rebuild
