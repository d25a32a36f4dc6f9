// The request bounds shared by the daemon and the CLI, and the one helper that shortens what
// a client sent before it is echoed.

#include "proto/request_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace protean_admin {
namespace {

using ::testing::HasSubstr;

TEST(AbbreviateTest, KeepsShortTextAndCutsLongTextWithItsLength) {
  EXPECT_EQ(Abbreviate("Balances"), "Balances");
  EXPECT_EQ(Abbreviate(std::string(kMaxEchoBytes, 'a')), std::string(kMaxEchoBytes, 'a'));
  EXPECT_EQ(Abbreviate(std::string(102400, 'A')),
            std::string(kMaxEchoBytes, 'A') + "…(102400 bytes)");
  EXPECT_EQ(Abbreviate("abcdef", 3), "abc…(6 bytes)");
  EXPECT_EQ(Abbreviate("abcdef", 0), "…(6 bytes)");
}

TEST(AbbreviateTest, NeverCutsAUtf8Character) {
  // "é" is two bytes, "€" three: a cut inside one backs up to its first byte.
  EXPECT_EQ(Abbreviate("aé€z", 2), "a…(7 bytes)");
  EXPECT_EQ(Abbreviate("aé€z", 3), "aé…(7 bytes)");
  EXPECT_EQ(Abbreviate("aé€z", 4), "aé…(7 bytes)");
  EXPECT_EQ(Abbreviate("aé€z", 5), "aé…(7 bytes)");
  EXPECT_EQ(Abbreviate("aé€z", 6), "aé€…(7 bytes)");
}

TEST(CheckLengthTest, RefusesLongerThanTheBoundEchoingLittle) {
  EXPECT_TRUE(
      CheckLength("projection", std::string(kMaxProjectionNameBytes, 'P'), kMaxProjectionNameBytes)
          .ok());
  absl::Status s = CheckLength("projection", std::string(102400, 'P'), kMaxProjectionNameBytes);
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "projection is longer than 256 bytes: '" +
                             std::string(kMaxEchoBytes, 'P') + "…(102400 bytes)'");
  s = CheckLength("job_id", std::string(kMaxJobIdBytes + 1, 'j'), kMaxJobIdBytes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("job_id is longer than 256 bytes"));
  EXPECT_LT(s.message().size(), 200u);
}

TEST(CheckBatchSizeTest, ZeroToTheBoundAreAccepted) {
  for (int64_t ok : {int64_t{0}, int64_t{1}, int64_t{500}, int64_t{kMaxBatchSize}}) {
    EXPECT_TRUE(CheckBatchSize(ok).ok()) << ok;
  }
  for (int64_t bad : {int64_t{-1}, int64_t{kMaxBatchSize} + 1, int64_t{2147483647}}) {
    absl::Status s = CheckBatchSize(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message(),
              "batch_size must be between 1 and 100000 (0 means the default, 500), "
              "got " +
                  std::to_string(bad));
  }
}

}  // namespace
}  // namespace protean_admin
