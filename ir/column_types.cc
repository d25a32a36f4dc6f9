#include "ir/column_types.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace protean_admin::ir {
namespace {

constexpr int64_t kProteanDefaultMaxLength = 255;  // protean.fields.String

std::string IdentityColumn(std::string_view identity_type) {
  if (identity_type == "integer") return "integer";
  if (identity_type == "uuid") return "uuid";
  return "varchar";  // sa String without length
}

// The type of a scalar Protean field type name ("String", "Integer", ...); empty if none.
std::string ScalarType(std::string_view type, std::optional<int64_t> max_length,
                       std::string_view identity_type) {
  const std::string t = absl::AsciiStrToLower(std::string(type));
  if (t == "string" || t == "status") {
    return absl::StrCat("varchar(", max_length.value_or(kProteanDefaultMaxLength), ")");
  }
  if (t == "text") return "text";
  if (t == "integer") return "integer";
  if (t == "float") return "double precision";
  if (t == "boolean") return "boolean";
  if (t == "date") return "date";
  if (t == "datetime") return "timestamp";
  if (t == "identifier") return IdentityColumn(identity_type);
  if (t == "dict") return "json";
  return "";
}

}  // namespace

absl::StatusOr<std::string> ColumnTypeFor(const IrField& field, std::string_view identity_type) {
  const std::string& kind = field.kind;
  if (kind == "auto") return field.increment ? "integer" : IdentityColumn(identity_type);
  if (kind == "identifier" || kind == "reference") return IdentityColumn(identity_type);
  if (kind == "dict") return std::string("json");
  if (kind == "list") {
    if (field.content_type.empty()) return std::string("text[]");
    const std::string content = absl::AsciiStrToLower(field.content_type);
    // List(content_type=Dict): ARRAY(PickleType), Dict's non-PostgreSQL mapping.
    if (content == "dict") return std::string("bytea[]");
    std::string element = ScalarType(field.content_type, std::nullopt, identity_type);
    if (element.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "list of ", field.content_type, ": no column type in Protean's PostgreSQL provider"));
    }
    return absl::StrCat(element, "[]");
  }
  if (kind == "standard" || kind == "text" || kind == "status" || kind.empty()) {
    std::string type = ScalarType(field.type, field.max_length, identity_type);
    if (!type.empty()) return type;
    return absl::InvalidArgumentError(
        absl::StrCat("field type \"", field.type, "\" has no column type in this mapping"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("a ", kind,
                   " field is not one column (Protean flattens or relates it): declare its "
                   "columns by hand"));
}

std::string CanonicalColumnType(std::string_view sql_type) {
  std::string t = absl::AsciiStrToLower(std::string(sql_type));
  t = absl::StrJoin(absl::StrSplit(t, ' ', absl::SkipEmpty()), " ");
  t = absl::StrReplaceAll(t, {{"character varying", "varchar"},
                              {"timestamp without time zone", "timestamp"},
                              {"float8", "double precision"},
                              {"int4", "integer"},
                              {" (", "("}});
  if (t == "int") t = "integer";
  if (t == "bool") t = "boolean";
  if (t == "float") t = "double precision";
  return t;
}

}  // namespace protean_admin::ir
