// File: app/parent_watch.h
//
// A child's watch on its parent link. The kernel's parent-death signal
// covers a parent process that dies on this host; this covers a parent
// whose server can no longer be reached (it stopped serving, or the link
// to it broke): when several probes in a row find nothing listening, the
// watch reports the loss so the child shuts down instead of living on as
// an orphan.
//
//   ParentWatch watch(parent_ref, [&] { stop->Request("lost its parent"); });
//
// Probes are Actor/Info calls, once a second. Only "nothing answers at
// that address" (UNAVAILABLE) counts as a miss; a slow answer from a busy
// parent does not. Thread-safe; the destructor stops the watch.

#ifndef TETHER_APP_PARENT_WATCH_H_
#define TETHER_APP_PARENT_WATCH_H_

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "runtime/base/tree_token.h"
#include "tether/v1/identity.pb.h"

namespace tether {

class ParentWatch {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(1);
    absl::Duration probe_deadline = absl::Seconds(2);
    int misses = 5;
  };

  // Probes carry `token`, the tree's. Does nothing when `parent` has no
  // address.
  ParentWatch(const v1::ActorRef& parent, const TreeToken& token,
              std::function<void()> on_lost, Options options);
  ParentWatch(const v1::ActorRef& parent, const TreeToken& token,
              std::function<void()> on_lost)
      : ParentWatch(parent, token, std::move(on_lost), Options()) {}
  ParentWatch(const ParentWatch&) = delete;
  ParentWatch& operator=(const ParentWatch&) = delete;
  ~ParentWatch();

 private:
  void Run(const v1::ActorRef& parent, const TreeToken& token,
           const std::function<void()>& on_lost, const Options& options);

  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace tether

#endif  // TETHER_APP_PARENT_WATCH_H_
