#include "runtime/base/log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

TEST(LogTest, ParsesEveryLevelName) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
}

TEST(LogTest, RejectsUnknownLevelNamingIt) {
  absl::StatusOr<LogLevel> level = ParseLogLevel("loud");
  ASSERT_FALSE(level.ok());
  EXPECT_NE(level.status().message().find("'loud'"), absl::string_view::npos);
}

TEST(LogTest, ThresholdFiltersLowerLevels) {
  SetLogLevel(LogLevel::kWarning);
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kWarning));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  SetLogLevel(LogLevel::kInfo);
}

TEST(LogTest, DisabledStatementDoesNotEvaluateOperands) {
  SetLogLevel(LogLevel::kError);
  int evaluated = 0;
  TETHER_LOG(kInfo) << ++evaluated;
  EXPECT_EQ(evaluated, 0);
  SetLogLevel(LogLevel::kInfo);
}

TEST(LogTest, LineNamesTheActor) {
  SetLogActor("worker", "0de98db0-1234-4abc-8def-0123456789ab");
  testing::internal::CaptureStderr();
  TETHER_LOG(kWarning) << "disk " << 97 << "% full";
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.front(), 'W');
  EXPECT_NE(out.find("worker[0de98db0] disk 97% full\n"), std::string::npos)
      << out;
}

TEST(LogTest, ALongMessageIsCutSayingHowMuch) {
  const std::string name(3 << 20, 'n');
  testing::internal::CaptureStderr();
  TETHER_LOG(kWarning) << "no function named " << name;
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_LT(out.size(), kMaxLogMessageBytes + 200) << "one line, bounded";
  EXPECT_NE(
      out.find(absl::StrCat("... (", name.size() + 18 - kMaxLogMessageBytes,
                            " more bytes)\n")),
      std::string::npos)
      << out.substr(out.size() - 80);
}

TEST(LogTest, LinesInAScopedContextNameItUntilTheScopeEnds) {
  SetLogActor("worker", "0de98db0-1234-4abc-8def-0123456789ab");
  testing::internal::CaptureStderr();
  {
    const ScopedLogContext context("counter",
                                   "9b1c22e0-5678-4abc-8def-0123456789ab");
    TETHER_LOG(kInfo) << "inside";
  }
  TETHER_LOG(kInfo) << "outside";
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("worker[0de98db0] counter#9b1c22e0 inside\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("worker[0de98db0] outside\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace tether
