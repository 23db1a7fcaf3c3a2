#include "app/tree_token_source.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/process/local_roots.h"
#include "runtime/process/private_files.h"

namespace tether {
namespace {

// A directory of the test's own for the user state directory, so that the
// records of other processes on the machine play no part.
class TreeTokenSourceTest : public testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/tokens.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    ASSERT_EQ(setenv("XDG_RUNTIME_DIR", directory_.c_str(), 1), 0);
  }

  std::string File(const std::string& name) {
    return absl::StrCat(directory_, "/", name);
  }

  std::string directory_;
};

TEST_F(TreeTokenSourceTest, ATokenFileGivesItsToken) {
  const TreeToken token = TreeToken::Generate();
  ASSERT_TRUE(
      WritePrivateFile(File("tree.token"), token.SecretForTransfer() + "\n")
          .ok());
  absl::StatusOr<TreeToken> read = TreeTokenFor({}, File("tree.token"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->SecretForTransfer(), token.SecretForTransfer());
}

TEST_F(TreeTokenSourceTest, AFileOthersCanReadIsRefusedUnquoted) {
  const TreeToken token = TreeToken::Generate();
  ASSERT_TRUE(
      WritePrivateFile(File("open.token"), token.SecretForTransfer()).ok());
  ASSERT_EQ(chmod(File("open.token").c_str(), 0644), 0);
  absl::StatusOr<TreeToken> read = TreeTokenFor({}, File("open.token"));
  EXPECT_TRUE(absl::IsFailedPrecondition(read.status())) << read.status();
  EXPECT_TRUE(absl::StrContains(read.status().message(), "chmod 600"))
      << read.status();
  EXPECT_FALSE(
      absl::StrContains(read.status().message(), token.SecretForTransfer()));
}

TEST_F(TreeTokenSourceTest, AMalformedFileIsNamedButNotQuoted) {
  ASSERT_TRUE(WritePrivateFile(File("bad.token"), "not-a-token").ok());
  absl::StatusOr<TreeToken> read = TreeTokenFor({}, File("bad.token"));
  EXPECT_TRUE(absl::IsInvalidArgument(read.status())) << read.status();
  EXPECT_TRUE(absl::StrContains(read.status().message(), File("bad.token")));
  EXPECT_FALSE(absl::StrContains(read.status().message(), "not-a-token"));
}

TEST_F(TreeTokenSourceTest, AMissingFileIsNotFound) {
  absl::StatusOr<TreeToken> read = TreeTokenFor({}, File("absent"));
  EXPECT_TRUE(absl::IsNotFound(read.status())) << read.status();
}

TEST_F(TreeTokenSourceTest, JoiningALocalRootsRegistrarTakesItsToken) {
  const TreeToken token = TreeToken::Generate();
  absl::StatusOr<std::unique_ptr<LocalRootRecord>> record =
      LocalRootRecord::Create("root", "uuid-1", "127.0.0.1:4711", token);
  ASSERT_TRUE(record.ok()) << record.status();
  absl::StatusOr<TreeToken> joined = TreeTokenFor({"127.0.0.1:4711"}, "");
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(joined->SecretForTransfer(), token.SecretForTransfer());

  absl::StatusOr<TreeToken> elsewhere = TreeTokenFor({"127.0.0.1:4712"}, "");
  EXPECT_TRUE(absl::IsFailedPrecondition(elsewhere.status()))
      << elsewhere.status();
  EXPECT_TRUE(
      absl::StrContains(elsewhere.status().message(), "127.0.0.1:4712"));
}

TEST_F(TreeTokenSourceTest, ARootOfItsOwnMakesAFreshToken) {
  absl::StatusOr<TreeToken> first = TreeTokenFor({}, "");
  absl::StatusOr<TreeToken> second = TreeTokenFor({}, "");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(first->SecretForTransfer(), second->SecretForTransfer());
}

TEST_F(TreeTokenSourceTest, RegisteringInEtcdNeedsATokenFile) {
  absl::StatusOr<TreeToken> token = TreeTokenFor({"etcd://127.0.0.1:2379"}, "");
  EXPECT_TRUE(absl::IsFailedPrecondition(token.status())) << token.status();
  EXPECT_TRUE(absl::StrContains(token.status().message(), "etcd"));
}

}  // namespace
}  // namespace tether
