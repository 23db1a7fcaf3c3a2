// The user state directory and its files against what another local user
// could plant: a directory of theirs, a symbolic link, open permissions, a
// link where a file will be written.

#include "runtime/process/private_files.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

// A uid that is not this process's: nobody.
constexpr uid_t kOtherUser = 65534;

class PrivateFilesTest : public testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/private-files-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    base_ = pattern;
    setenv("XDG_RUNTIME_DIR", base_.c_str(), 1);
    state_ = absl::StrCat(base_, "/tether-", geteuid());
  }

  void TearDown() override {
    unsetenv("XDG_RUNTIME_DIR");
    std::system(absl::StrCat("rm -rf '", base_, "'").c_str());
  }

  static std::string Read(const std::string& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), {});
  }

  static mode_t Mode(const std::string& path) {
    struct stat info;
    EXPECT_EQ(lstat(path.c_str(), &info), 0) << path;
    return info.st_mode;
  }

  std::string base_;
  std::string state_;
};

TEST_F(PrivateFilesTest, CreatesTheDirectoriesClosedToOthers) {
  absl::StatusOr<std::string> roots = PrivateDirectory("roots");
  ASSERT_TRUE(roots.ok()) << roots.status();
  EXPECT_EQ(*roots, state_ + "/roots");
  EXPECT_EQ(Mode(state_) & 07777, 0700u);
  EXPECT_EQ(Mode(*roots) & 07777, 0700u);
}

TEST_F(PrivateFilesTest, RefusesAStateDirectoryThatIsALink) {
  const std::string elsewhere = base_ + "/elsewhere";
  ASSERT_EQ(mkdir(elsewhere.c_str(), 0700), 0);
  ASSERT_EQ(symlink(elsewhere.c_str(), state_.c_str()), 0);
  const absl::StatusOr<std::string> dir = UserStateDirectory();
  ASSERT_FALSE(dir.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(dir.status()));
  EXPECT_TRUE(absl::StrContains(dir.status().message(), "symbolic link"))
      << dir.status();
}

TEST_F(PrivateFilesTest, RefusesAStateDirectoryOthersCanWrite) {
  ASSERT_EQ(mkdir(state_.c_str(), 0700), 0);
  ASSERT_EQ(chmod(state_.c_str(), 0777), 0);
  const absl::StatusOr<std::string> dir = PrivateDirectory("roots");
  ASSERT_FALSE(dir.ok());
  EXPECT_TRUE(absl::StrContains(dir.status().message(), "mode is 0777"))
      << dir.status();
  EXPECT_EQ(Mode(state_) & 07777, 0777u) << "it is refused, not repaired";
}

TEST_F(PrivateFilesTest, RefusesAStateDirectoryOfAnotherUser) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "planting a directory of another user needs root";
  }
  ASSERT_EQ(mkdir(state_.c_str(), 0700), 0);
  ASSERT_EQ(chown(state_.c_str(), kOtherUser, kOtherUser), 0);
  const absl::StatusOr<std::string> dir = UserStateDirectory();
  ASSERT_FALSE(dir.ok());
  EXPECT_TRUE(absl::StrContains(dir.status().message(),
                                absl::StrCat("belongs to uid ", kOtherUser)))
      << dir.status();
}

TEST_F(PrivateFilesTest, WritesAPrivateFileWholeAndNeverThroughALink) {
  absl::StatusOr<std::string> dir = PrivateDirectory("roots");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string victim = base_ + "/victim";
  std::ofstream(victim) << "untouched";
  const std::string path = *dir + "/123";
  ASSERT_EQ(symlink(victim.c_str(), path.c_str()), 0);
  ASSERT_TRUE(WritePrivateFile(path, "record\n").ok());
  EXPECT_EQ(Read(victim), "untouched");
  EXPECT_TRUE(S_ISREG(Mode(path)));
  EXPECT_EQ(Mode(path) & 07777, 0600u);
  EXPECT_EQ(Read(path), "record\n");
  absl::StatusOr<std::string> read = ReadPrivateFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "record\n");
}

TEST_F(PrivateFilesTest, ReadsOnlyPrivateRegularFiles) {
  absl::StatusOr<std::string> dir = PrivateDirectory("tokens");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string open_file = *dir + "/open";
  std::ofstream(open_file) << "secret";
  ASSERT_EQ(chmod(open_file.c_str(), 0644), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(ReadPrivateFile(open_file).status()));

  const std::string link = *dir + "/link";
  const std::string target = *dir + "/target";
  ASSERT_TRUE(WritePrivateFile(target, "secret").ok());
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  EXPECT_FALSE(ReadPrivateFile(link).ok()) << "a link is not followed";

  EXPECT_TRUE(absl::IsNotFound(ReadPrivateFile(*dir + "/missing").status()));
}

TEST_F(PrivateFilesTest, AProcessIsNamedByItsPidAndStartTime) {
  const std::optional<uint64_t> mine = ProcessStartTime(getpid());
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(ProcessStartTime(getpid()), mine);
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_FALSE(ProcessStartTime(child).has_value()) << "a reaped process";
}

}  // namespace
}  // namespace tether
