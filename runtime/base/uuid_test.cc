#include "runtime/base/uuid.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace tether {
namespace {

TEST(UuidTest, IsCanonicalVersion4) {
  const std::string id = NewUuid();
  ASSERT_TRUE(IsUuid(id)) << id;
  EXPECT_EQ(id[14], '4') << id;  // version nibble
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos)
      << id;  // RFC 4122 variant
}

TEST(UuidTest, DoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    EXPECT_TRUE(seen.insert(NewUuid()).second);
  }
}

TEST(UuidTest, IsUuidRejectsOtherText) {
  EXPECT_TRUE(IsUuid("0de98db0-1234-4abc-8def-0123456789ab"));
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("0DE98DB0-1234-4ABC-8DEF-0123456789AB"));
  EXPECT_FALSE(IsUuid("0de98db0x1234-4abc-8def-0123456789ab"));
  EXPECT_FALSE(IsUuid("0de98db0-1234-4abc-8def-0123456789a"));
  EXPECT_FALSE(IsUuid("0de98db0-1234-4abc-8def-0123456789ag"));
}

}  // namespace
}  // namespace tether
