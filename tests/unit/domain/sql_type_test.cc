// Declared column types: what PostgreSQL's CREATE TABLE accepts as a type name passes; anything
// that could end the column list or the statement is refused with its position.

#include "domain/sql_type.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace protean_admin::domain {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(SqlTypeTest, AcceptsTypeNamesWithModifiersAndArrays) {
  for (const char* type : {"text",
                           "varchar(255)",
                           "numeric(10,2)",
                           "numeric( 10 , 2 )",
                           "numeric(5, -2)",
                           "double precision",
                           "character varying(64)",
                           "timestamp(3) with time zone",
                           "time without time zone",
                           "interval day to second(3)",
                           "public.mood",
                           "my_schema.t$1",
                           "text[]",
                           "integer[3][3]",
                           "int ARRAY[4]",
                           "double precision [ ]",
                           "geometry(Point, 4326)",
                           "  bigint  ",
                           "INT4",
                           "_int4"}) {
    EXPECT_TRUE(CheckSqlType(type).ok()) << type << ": " << CheckSqlType(type);
  }
}

TEST(SqlTypeTest, RefusesAnythingElseSayingWhere) {
  struct Case {
    const char* type;
    const char* reason;
  };
  for (const Case& c : {
           Case{"text); DROP TABLE victim; --", "unexpected ')' at character 5"},
           Case{"text, evil int", "unexpected ',' at character 5"},
           Case{"text DEFAULT 'x'", "unexpected ''' at character 14"},
           Case{"int -- comment", "unexpected '-' at character 5"},
           Case{"int /* c */", "unexpected '/' at character 5"},
           Case{"int;", "unexpected ';' at character 4"},
           Case{"text\nNOT NULL", "unexpected byte 0xa at character 5"},
           Case{"\"quoted type\"", "must start with a type name at character 1"},
           Case{"1int", "must start with a type name at character 1"},
           Case{"varchar(255", "has an unclosed '('"},
           Case{"numeric(10,)", "expected a number or a name as modifier at character 12"},
           Case{"numeric(10 2)", "unexpected '2' in the modifiers at character 12"},
           Case{"numeric(1)(2)", "unexpected '(' at character 11"},
           Case{"text[", "has an unclosed '['"},
           Case{"text[x]", "expected ']' or a number in the array brackets at character 6"},
           Case{"text[] int", "unexpected 'i' at character 8"},
           Case{"public.", "ends where a name is expected"},
           Case{"public.(1)", "expected a name, got '(' at character 8"},
           Case{"", "is empty"},
           Case{"   ", "is empty"},
       }) {
    absl::Status s = CheckSqlType(c.type);
    ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.type;
    EXPECT_THAT(std::string(s.message()), StartsWith(std::string("invalid SQL type: ") + c.reason))
        << c.type;
    EXPECT_THAT(std::string(s.message()), HasSubstr("expected a type name with optional "
                                                    "modifiers and array brackets"));
  }
}

}  // namespace
}  // namespace protean_admin::domain
