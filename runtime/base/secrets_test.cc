#include "runtime/base/secrets.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

TEST(SecretsTest, RandomHexIsFreshLowercaseHexOfTheLength) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string hex = RandomHex(16);
    ASSERT_EQ(hex.size(), 32u);
    for (char c : hex) {
      EXPECT_TRUE(absl::ascii_isxdigit(c) && !absl::ascii_isupper(c)) << hex;
    }
    EXPECT_TRUE(seen.insert(hex).second) << "repeated " << hex;
  }
}

TEST(SecretsTest, EqualOnlyWhenEveryByteAndTheLengthMatch) {
  const std::string secret = "0123456789abcdef";
  EXPECT_TRUE(SecretsEqual("0123456789abcdef", secret));
  EXPECT_FALSE(SecretsEqual("0123456789abcdee", secret));
  EXPECT_FALSE(SecretsEqual("1123456789abcdef", secret));
  EXPECT_FALSE(SecretsEqual("0123456789abcde", secret));
  EXPECT_FALSE(SecretsEqual("0123456789abcdef0", secret));
  EXPECT_FALSE(SecretsEqual("", secret));
  EXPECT_TRUE(SecretsEqual("", ""));
}

}  // namespace
}  // namespace tether
