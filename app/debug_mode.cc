#include "app/debug_mode.h"

#include "client/debug/post_mortem.h"
#include "runtime/debug/tty_lock.h"

namespace tether {

void ApplyDebugMode(ActorCore* runtime, ShutdownSignal* stop) {
  if (!runtime->debug_mode()) return;
  InstallPostMortem(runtime);
  if (runtime->parent().has_id()) {
    stop->IgnoreInterruptsWhile([] { return true; });
    return;
  }
  stop->IgnoreInterruptsWhile([] {
    TtyLock* lock = TtyLock::Hosted();
    return lock != nullptr && lock->holder().has_value();
  });
}

}  // namespace tether
