#include "app/parent_watch.h"

#include "client/actor_client.h"
#include "runtime/base/log.h"
#include "tether/address.h"

namespace tether {

ParentWatch::ParentWatch(const v1::ActorRef& parent, const TreeToken& token,
                         std::function<void()> on_lost, Options options) {
  if (parent.addresses().empty()) return;
  thread_ = std::thread([this, parent, token, on_lost = std::move(on_lost),
                         options] { Run(parent, token, on_lost, options); });
}

ParentWatch::~ParentWatch() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void ParentWatch::Run(const v1::ActorRef& parent, const TreeToken& token,
                      const std::function<void()>& on_lost,
                      const Options& options) {
  absl::StatusOr<Address> address = Address::Parse(parent.addresses(0));
  if (!address.ok()) return;
  const ActorClient client = ActorClient::Dial(*address, token);
  int misses = 0;
  while (!stop_.WaitForNotificationWithTimeout(options.interval)) {
    const absl::Status probe = client.Info(options.probe_deadline).status();
    misses = absl::IsUnavailable(probe) ? misses + 1 : 0;
    if (misses < options.misses) continue;
    TETHER_LOG(kWarning) << "parent " << parent.id().name() << " at "
                         << address->ToString() << " unreachable for " << misses
                         << " probes: " << probe.message();
    on_lost();
    return;
  }
}

}  // namespace tether
