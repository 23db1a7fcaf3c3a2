#include "actorctl/actorctl_flags.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

// Parses `args` as the arguments after the program name.
absl::StatusOr<CtlCommandLine> Parse(std::vector<std::string> args) {
  std::vector<const char*> argv = {"actorctl"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseCtlCommandLine(static_cast<int>(argv.size()), argv.data());
}

// The one-line message of a rejected command line.
std::string ErrorOf(std::vector<std::string> args) {
  absl::StatusOr<CtlCommandLine> line = Parse(std::move(args));
  EXPECT_FALSE(line.ok());
  if (line.ok()) return "";
  EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(line.status().message(), "\n"));
  return std::string(line.status().message());
}

TEST(ActorctlFlagsTest, DefaultsWithoutFlags) {
  absl::StatusOr<CtlCommandLine> line = Parse({"info", "worker"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->registry, "");
  EXPECT_FALSE(line->json);
  EXPECT_EQ(line->args, "");
  EXPECT_EQ(line->timeout, absl::Seconds(5));
  EXPECT_EQ(line->log_level, LogLevel::kWarning);
  EXPECT_FALSE(line->help);
  EXPECT_EQ(line->operands, (std::vector<std::string>{"info", "worker"}));
}

TEST(ActorctlFlagsTest, ValuesWithEqualsOrAsTheNextArgument) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"--registry=unix:/tmp/r", "--timeout=250ms", "--args={\"n\":3}",
            "--log_level=debug", "--json", "stream", "w", "counter"},
           {"--registry", "unix:/tmp/r", "--timeout", "250ms", "--args",
            "{\"n\":3}", "--log_level", "debug", "--json", "stream", "w",
            "counter"},
           // Flags anywhere, one dash or two.
           {"stream", "-registry=unix:/tmp/r", "w", "--json", "counter",
            "--args", "{\"n\":3}", "-timeout", "250ms", "--log_level=debug"},
       }) {
    absl::StatusOr<CtlCommandLine> line = Parse(args);
    ASSERT_TRUE(line.ok()) << line.status();
    EXPECT_EQ(line->registry, "unix:/tmp/r");
    EXPECT_TRUE(line->json);
    EXPECT_EQ(line->args, "{\"n\":3}");
    EXPECT_EQ(line->timeout, absl::Milliseconds(250));
    EXPECT_EQ(line->log_level, LogLevel::kDebug);
    EXPECT_EQ(line->operands,
              (std::vector<std::string>{"stream", "w", "counter"}));
  }
}

TEST(ActorctlFlagsTest, BoolFlagsTakeOnlyAnAttachedValue) {
  absl::StatusOr<CtlCommandLine> line = Parse({"--json", "false", "ls"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_TRUE(line->json);
  EXPECT_EQ(line->operands, (std::vector<std::string>{"false", "ls"}));

  line = Parse({"--json=true", "--json=false", "ls"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_FALSE(line->json) << "the last value wins";
}

TEST(ActorctlFlagsTest, DoubleDashEndsTheFlags) {
  absl::StatusOr<CtlCommandLine> line =
      Parse({"--json", "--", "call", "--odd-name", "echo"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_TRUE(line->json);
  EXPECT_EQ(line->operands,
            (std::vector<std::string>{"call", "--odd-name", "echo"}));
}

TEST(ActorctlFlagsTest, HelpInEitherFormWinsOverErrors) {
  for (const char* flag : {"--help", "-h", "-help"}) {
    absl::StatusOr<CtlCommandLine> line = Parse({"ls", flag});
    ASSERT_TRUE(line.ok()) << flag << ": " << line.status();
    EXPECT_TRUE(line->help) << flag;
    line = Parse({"--bogus", "--timeout=soon", flag, "--registry"});
    ASSERT_TRUE(line.ok()) << flag << ": " << line.status();
    EXPECT_TRUE(line->help) << flag;
  }
}

TEST(ActorctlFlagsTest, TheFirstErrorIsReported) {
  EXPECT_EQ(ErrorOf({"--timeout=soon", "--bogus", "ls"}),
            "--timeout: 'soon' is not a positive duration (want e.g. 500ms, "
            "10s, 1m)");
}

TEST(ActorctlFlagsTest, UnknownFlagIsNamed) {
  EXPECT_EQ(ErrorOf({"--bogus", "ls"}), "unknown flag --bogus");
  EXPECT_EQ(ErrorOf({"ls", "-x=1"}), "unknown flag -x");
  // absl's negated bools are not accepted.
  EXPECT_EQ(ErrorOf({"--nojson", "ls"}), "unknown flag --nojson");
}

TEST(ActorctlFlagsTest, MissingValueIsNamed) {
  EXPECT_EQ(ErrorOf({"ls", "--registry"}),
            "--registry needs a value (--registry=VALUE)");
  EXPECT_EQ(ErrorOf({"--timeout=", "ls"}),
            "--timeout needs a value (--timeout=VALUE)");
  // The next argument is not taken for a value when it is a flag itself.
  EXPECT_EQ(ErrorOf({"--registry", "--json", "ls"}),
            "--registry needs a value (--registry=VALUE)");
}

TEST(ActorctlFlagsTest, MalformedValuesAreNamed) {
  EXPECT_EQ(ErrorOf({"--timeout=soon", "ls"}),
            "--timeout: 'soon' is not a positive duration (want e.g. 500ms, "
            "10s, 1m)");
  for (const char* timeout : {"0s", "-1s", "5", "inf"}) {
    EXPECT_TRUE(
        absl::StartsWith(ErrorOf({"--timeout", timeout, "ls"}), "--timeout: '"))
        << timeout;
  }
  EXPECT_EQ(ErrorOf({"--json=maybe", "ls"}),
            "--json: 'maybe' is not true or false");
  EXPECT_EQ(ErrorOf({"--log_level=loud", "ls"}),
            "--log_level: unknown log level 'loud' (want debug, info, "
            "warning or error)");
}

TEST(ActorctlFlagsTest, HelpListsEveryFlag) {
  for (const char* flag :
       {"--registry=ADDR", "--json", "--args=JSON", "--timeout=DURATION",
        "--log_level=LEVEL", "--help, -h"}) {
    EXPECT_TRUE(absl::StrContains(kCtlHelp, flag)) << flag;
  }
}

}  // namespace
}  // namespace tether
