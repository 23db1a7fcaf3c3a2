#include "server/peer_addresses.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tether {
namespace {

v1::ActorRef Opener(const std::vector<std::string>& addresses) {
  v1::ActorRef opener;
  for (const std::string& address : addresses) opener.add_addresses(address);
  return opener;
}

using Route = std::vector<std::string>;

TEST(PeerAddressesTest, OnlyAddressesOnTheCallingHostCount) {
  const v1::ActorRef opener =
      Opener({"10.0.0.9:7000", "127.0.0.1:7001", "10.0.0.2:7002",
              "unix:/run/a.sock", "evil.example:80", "not an address"});
  EXPECT_EQ(AddressesOnPeerHost("ipv4:127.0.0.1:51234", opener),
            Route({"127.0.0.1:7001"}));
  EXPECT_EQ(AddressesOnPeerHost("ipv4:10.0.0.2:40000", opener),
            Route({"10.0.0.2:7002"}));
  EXPECT_EQ(AddressesOnPeerHost("unix:", opener), Route({"unix:/run/a.sock"}));
  EXPECT_EQ(AddressesOnPeerHost("ipv4:192.168.1.1:1", opener), Route());
}

TEST(PeerAddressesTest, Ipv6PeersMatchBracketedAddresses) {
  const v1::ActorRef opener = Opener({"[::1]:7000", "127.0.0.1:7001"});
  EXPECT_EQ(AddressesOnPeerHost("ipv6:[::1]:51234", opener),
            Route({"[::1]:7000"}));
  EXPECT_EQ(AddressesOnPeerHost("ipv6:%5B::1%5D:51234", opener),
            Route({"[::1]:7000"}));
}

TEST(PeerAddressesTest, AnUnknownPeerGetsNoRoute) {
  const v1::ActorRef opener = Opener({"127.0.0.1:7001", "unix:/run/a.sock"});
  EXPECT_EQ(AddressesOnPeerHost("", opener), Route());
  EXPECT_EQ(AddressesOnPeerHost("ipv4:garbage", opener), Route());
  EXPECT_EQ(AddressesOnPeerHost("ipv6:::1:5", opener), Route());
}

}  // namespace
}  // namespace tether
