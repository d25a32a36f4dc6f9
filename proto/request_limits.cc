#include "proto/request_limits.h"

#include "absl/strings/str_cat.h"

namespace protean_admin {

std::string Abbreviate(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  // Back up to the first byte of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(absl::string_view(text.data(), cut), "…(", text.size(), " bytes)");
}

absl::Status CheckLength(std::string_view field, std::string_view value, size_t max_bytes) {
  if (value.size() <= max_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(absl::string_view(field.data(), field.size()),
                                                 " is longer than ", max_bytes, " bytes: '",
                                                 Abbreviate(value), "'"));
}

absl::Status CheckBatchSize(int64_t batch_size) {
  if (batch_size >= 0 && batch_size <= kMaxBatchSize) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("batch_size must be between 1 and ", kMaxBatchSize,
                                                 " (0 means the default, ", kDefaultBatchSize,
                                                 "), got ", batch_size));
}

}  // namespace protean_admin
