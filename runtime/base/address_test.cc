#include "tether/address.h"

#include "gtest/gtest.h"

namespace tether {
namespace {

TEST(AddressTest, ParsesTcpHostAndPort) {
  absl::StatusOr<Address> address = Address::Parse("127.0.0.1:5000");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_TRUE(address->is_tcp());
  EXPECT_EQ(address->host(), "127.0.0.1");
  EXPECT_EQ(address->port(), 5000);
  EXPECT_EQ(address->ToString(), "127.0.0.1:5000");
}

TEST(AddressTest, ParsesHostnameAndPortZero) {
  absl::StatusOr<Address> address = Address::Parse("localhost:0");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->host(), "localhost");
  EXPECT_EQ(address->port(), 0);
  EXPECT_EQ(address->WithPort(41234).ToString(), "localhost:41234");
}

TEST(AddressTest, ParsesBracketedIpv6) {
  absl::StatusOr<Address> address = Address::Parse("[::1]:7");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->host(), "::1");
  EXPECT_EQ(address->port(), 7);
  EXPECT_EQ(address->ToString(), "[::1]:7");
}

TEST(AddressTest, ParsesUnixPathInBothSpellings) {
  absl::StatusOr<Address> plain = Address::Parse("unix:/tmp/a.sock");
  absl::StatusOr<Address> uri = Address::Parse("unix:///tmp/a.sock");
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_FALSE(plain->is_tcp());
  EXPECT_EQ(plain->path(), "/tmp/a.sock");
  EXPECT_EQ(*plain, *uri);
  EXPECT_EQ(plain->ToString(), "unix:/tmp/a.sock");
}

TEST(AddressTest, RoundTripsThroughToString) {
  for (const char* text : {"10.1.2.3:80", "[fe80::1]:65535", "unix:rel.sock",
                           "my-host.example:1"}) {
    absl::StatusOr<Address> address = Address::Parse(text);
    ASSERT_TRUE(address.ok()) << text << ": " << address.status();
    absl::StatusOr<Address> again = Address::Parse(address->ToString());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*address, *again) << text;
  }
}

struct Malformed {
  const char* text;
  const char* reason;
};

class MalformedAddressTest : public testing::TestWithParam<Malformed> {};

TEST_P(MalformedAddressTest, IsRejectedWithReason) {
  absl::StatusOr<Address> address = Address::Parse(GetParam().text);
  ASSERT_FALSE(address.ok()) << GetParam().text;
  EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(address.status().message().find(GetParam().text),
            absl::string_view::npos)
      << address.status();
  EXPECT_NE(address.status().message().find(GetParam().reason),
            absl::string_view::npos)
      << address.status();
}

INSTANTIATE_TEST_SUITE_P(
    All, MalformedAddressTest,
    testing::Values(Malformed{"nonsense", "missing ':port'"},
                    Malformed{"", "missing ':port'"},
                    Malformed{":80", "missing host"},
                    Malformed{"host:", "missing port"},
                    Malformed{"host:http", "not a number"},
                    Malformed{"host:-1", "not a number"},
                    Malformed{"host:65536", "out of range"},
                    Malformed{"host:0000099999", "out of range"},
                    Malformed{"::1:80", "brackets"},
                    Malformed{"[::1:80", "unterminated"},
                    Malformed{"[nothex]:80", "not an IPv6 address"},
                    Malformed{"[::1]80", "missing port"},
                    Malformed{"bad_host:80", "not a valid host name"},
                    Malformed{"unix:", "empty socket path"},
                    Malformed{"unix://", "empty socket path"}));

TEST(AddressTest, RejectsOverlongUnixPath) {
  const std::string text =
      "unix:/" + std::string(Address::kMaxUnixPathLength, 'x');
  absl::StatusOr<Address> address = Address::Parse(text);
  ASSERT_FALSE(address.ok());
  EXPECT_NE(address.status().message().find("longer than"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace tether
