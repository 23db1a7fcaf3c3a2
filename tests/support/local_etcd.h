// File: tests/support/local_etcd.h
//
// A throwaway single-member etcd for tests and benchmarks: runs `etcd`
// (Debian's etcd-server, which tools/setup.sh installs) on 127.0.0.1 with
// free client and peer ports and a data directory of its own, and waits
// until it answers. Destroying it kills etcd (SIGKILL), reaps it and
// removes the directory; etcd also dies with the thread that started it
// (PR_SET_PDEATHSIG), so a crashed test leaves no etcd behind. It never
// uses etcd's default ports, so a system etcd on 2379 does not matter.
//
//   absl::StatusOr<std::unique_ptr<LocalEtcd>> etcd = LocalEtcd::Start();
//   ASSERT_TRUE(etcd.ok()) << etcd.status();
//   auto registry = ConnectRegistry((*etcd)->registry_address());
//
// Not thread-safe: one thread drives each LocalEtcd.

#ifndef TETHER_TESTS_SUPPORT_LOCAL_ETCD_H_
#define TETHER_TESTS_SUPPORT_LOCAL_ETCD_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tether/address.h"

namespace tether {

class LocalEtcd {
 public:
  // Starts etcd and waits up to `timeout` until it serves requests. A
  // port taken by someone else in the meantime is retried with new ones.
  static absl::StatusOr<std::unique_ptr<LocalEtcd>> Start(
      absl::Duration timeout = absl::Seconds(30));

  LocalEtcd(const LocalEtcd&) = delete;
  LocalEtcd& operator=(const LocalEtcd&) = delete;
  ~LocalEtcd();

  // Where clients connect, and the same as a registry address
  // ("etcd://127.0.0.1:PORT").
  const Address& client_address() const { return client_; }
  std::string registry_address() const;

  // How many watches etcd holds open now (its watcher gauge), read from
  // its /metrics page.
  absl::StatusOr<int64_t> Watchers() const;

 private:
  LocalEtcd(pid_t pid, std::string dir, Address client)
      : pid_(pid), dir_(std::move(dir)), client_(std::move(client)) {}

  const pid_t pid_;
  const std::string dir_;  // data directory and log; removed at the end
  const Address client_;
};

// A loopback address on which nothing listens: a port that was just free.
// For "etcd unreachable" cases.
absl::StatusOr<Address> UnusedLoopbackAddress();

}  // namespace tether

#endif  // TETHER_TESTS_SUPPORT_LOCAL_ETCD_H_
