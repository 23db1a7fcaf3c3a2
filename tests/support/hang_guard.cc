#include "tests/support/hang_guard.h"

#include <unistd.h>

#include <cstdio>
#include <utility>
#include <vector>

#include "tests/support/process_tree.h"

namespace tether {

HangGuard::HangGuard(absl::Duration limit, std::string what)
    : watcher_([this, limit, what = std::move(what)] {
        if (done_.WaitForNotificationWithTimeout(limit)) return;
        const std::vector<ProcessEntry> descendants = ListDescendants(getpid());
        std::fprintf(stderr,
                     "hang guard: %s still ran after %s; killing %zu "
                     "descendant process(es) and failing:\n%s",
                     what.c_str(), absl::FormatDuration(limit).c_str(),
                     descendants.size(),
                     DescribeProcesses(descendants).c_str());
        std::fflush(stderr);
        KillAll(descendants);
        _exit(1);
      }) {}

HangGuard::~HangGuard() {
  done_.Notify();
  watcher_.join();
}

}  // namespace tether
