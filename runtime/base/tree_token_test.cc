#include "runtime/base/tree_token.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

TEST(TreeTokenTest, GeneratedTokensAre64HexDigitsAndDiffer) {
  const TreeToken a = TreeToken::Generate();
  const TreeToken b = TreeToken::Generate();
  EXPECT_EQ(a.SecretForTransfer().size(), 64u);
  EXPECT_NE(a.SecretForTransfer(), b.SecretForTransfer());
}

TEST(TreeTokenTest, AdmitsItsBearerValueOnly) {
  const TreeToken token = TreeToken::Generate();
  EXPECT_TRUE(token.Admits(token.AuthorizationValue()));
  EXPECT_TRUE(token.Admits("Bearer " + token.SecretForTransfer()));
  EXPECT_FALSE(token.Admits(""));
  EXPECT_FALSE(token.Admits(token.SecretForTransfer()));
  EXPECT_FALSE(token.Admits(TreeToken::Generate().AuthorizationValue()));
  EXPECT_FALSE(token.Admits(token.AuthorizationValue() + "0"));
  std::string one_off = token.AuthorizationValue();
  one_off.back() = one_off.back() == '0' ? '1' : '0';
  EXPECT_FALSE(token.Admits(one_off));
}

TEST(TreeTokenTest, ParsesWhatIsWrittenAndNeverQuotesABadOne) {
  const TreeToken token = TreeToken::Generate();
  absl::StatusOr<TreeToken> parsed =
      TreeToken::Parse(" " + token.SecretForTransfer() + "\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->Admits(token.AuthorizationValue()));

  const std::string secretish(63, 'a');
  const absl::StatusOr<TreeToken> short_one = TreeToken::Parse(secretish);
  ASSERT_FALSE(short_one.ok());
  EXPECT_FALSE(absl::StrContains(short_one.status().message(), secretish));
  EXPECT_FALSE(TreeToken::Parse(std::string(64, 'g')).ok());
}

}  // namespace
}  // namespace tether
