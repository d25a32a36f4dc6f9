#include "domain/env_substitution.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

namespace protean_admin::domain {
namespace {

GetEnvFunction Vars(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(EnvSubstitutionTest, Substitutes) {
  auto env = Vars({{"HOST", "db"}, {"EMPTY", ""}});
  bool substituted = true;
  EXPECT_EQ(*SubstituteEnv("plain", env, &substituted), "plain");
  EXPECT_FALSE(substituted);
  EXPECT_EQ(*SubstituteEnv("postgresql://${HOST}:5432/x", env, &substituted),
            "postgresql://db:5432/x");
  EXPECT_TRUE(substituted);
  EXPECT_EQ(*SubstituteEnv("${HOST|other}", env), "db");
  EXPECT_EQ(*SubstituteEnv("${MISSING|fallback}", env), "fallback");
  EXPECT_EQ(*SubstituteEnv("${MISSING|}", env), "");
  EXPECT_EQ(*SubstituteEnv("${EMPTY|fallback}", env), "");  // empty counts as set
  EXPECT_EQ(*SubstituteEnv("${ HOST }", env), "db");
  EXPECT_EQ(*SubstituteEnv("${MISSING|a|b}", env), "a|b");
  EXPECT_EQ(*SubstituteEnv("${HOST}-${MISSING|x}-${HOST}", env), "db-x-db");
  EXPECT_EQ(*SubstituteEnv("${MISSING|postgresql://u@h:1/d?x=1}", env), "postgresql://u@h:1/d?x=1");
  EXPECT_EQ(*SubstituteEnv("cost $5 ${unclosed", env), "cost $5 ${unclosed");
}

TEST(EnvSubstitutionTest, UnsetWithoutDefaultIsAnError) {
  auto result = SubstituteEnv("x ${NOPE} y", Vars({}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(std::string(result.status().message()), "Environment variable NOPE is not set");
}

TEST(EnvSubstitutionTest, NullLookupReadsTheProcessEnvironment) {
  ::setenv("PROTEAN_ADMIN_TEST_VAR", "from-process", 1);
  EXPECT_EQ(*SubstituteEnv("${PROTEAN_ADMIN_TEST_VAR}", nullptr), "from-process");
  EXPECT_EQ(ProcessGetEnv("PROTEAN_ADMIN_TEST_VAR"), "from-process");
  ::unsetenv("PROTEAN_ADMIN_TEST_VAR");
  EXPECT_EQ(ProcessGetEnv("PROTEAN_ADMIN_TEST_VAR"), std::nullopt);
}

}  // namespace
}  // namespace protean_admin::domain
