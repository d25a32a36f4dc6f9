#ifndef PROTEAN_ADMIN_DOMAIN_NAMES_H_
#define PROTEAN_ADMIN_DOMAIN_NAMES_H_

// Protean's naming rules (docs/protean-compatibility.md §2).
//
//   NormalizedName("Donald E. Knuth") == "donald_e_knuth"
//   CamelCaseName("My Domain 1.0")    == "MyDomain10"
//   Underscore("HTTPRequest")         == "http_request"
//   StreamCategory("test", "user")    == "test::user"
//   TypeString("Test", "Registered", 1) == "Test.Registered.v1"
//
// Transliteration: common accented Latin letters (UTF-8, U+00C0..U+017F) are folded to
// their ASCII base letter ("É" -> "E", "ß" -> "ss"); any other non-ASCII character counts
// as a non-alphanumeric separator.

#include <string>
#include <string_view>

namespace protean_admin::domain {

// Transliterate, lower-case, replace each run of non-alphanumerics by one '_', trim.
std::string NormalizedName(std::string_view name);

// Python's str.title() on the transliterated name, then alphanumerics only.
std::string CamelCaseName(std::string_view name);

// inflection.underscore: "UserDirectory" -> "user_directory", "HTTPRequest" ->
// "http_request", "OrderSummaryV2" -> "order_summary_v2".
std::string Underscore(std::string_view class_name);

// "{normalized_name}::{stream_category}".
std::string StreamCategory(std::string_view normalized_name, std::string_view stream_category);

// "{camel_case_name}.{event}.v{version}".
std::string TypeString(std::string_view camel_case_name, std::string_view event, int version);

}  // namespace protean_admin::domain

#endif  // PROTEAN_ADMIN_DOMAIN_NAMES_H_
