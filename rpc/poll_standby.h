// File: rpc/poll_standby.h
//
// Lets a thread that must keep gRPC's I/O going when nothing else does (an
// actor's call acceptor, server/call_acceptor.h) stand back while tasks
// poll. Under gRPC's epoll1 engine any thread blocked on a polling
// completion queue may be handed the process's one epoll set; one that is
// always blocked there reads the replies tasks wait for and has to wake
// them, a thread hand-off per frame (docs/performance.md, "The standing
// pollers"). So such a thread blocks in gRPC only while tasks are quiet,
// and a task that handles an event steps every standby blocked there
// aside.
//
//   class Acceptor final : public PollStandby {
//     void StepAside() override { /* end the Next() below soon */ }
//   };
//   {
//     PollStandby::Standing standing(&acceptor);
//     queue->Next(&tag, &ok);
//   }
//   ... a task, after each event it handled: NoteTaskEvent();
//
// Thread-safe.

#ifndef TETHER_RPC_POLL_STANDBY_H_
#define TETHER_RPC_POLL_STANDBY_H_

#include <cstdint>

namespace tether {

class PollStandby {
 public:
  // Marks `standby` as blocked in gRPC for the scope's life.
  class Standing {
   public:
    explicit Standing(PollStandby* standby);
    ~Standing();
    Standing(const Standing&) = delete;
    Standing& operator=(const Standing&) = delete;

   private:
    PollStandby* const standby_;
  };

  virtual ~PollStandby() = default;

  // Makes the standby's thread leave its blocking wait soon. Called at most
  // once per Standing scope, from a task's thread, under a process-wide
  // lock: it must return at once (short locks only) and note no events.
  virtual void StepAside() = 0;
};

// Counts one event a task handled and steps aside every standby that is
// standing. Cheap when none is.
void NoteTaskEvent();

// Events noted so far in the process. A standby that sees no change over
// an interval knows the tasks are quiet.
uint64_t TaskEventCount();

}  // namespace tether

#endif  // TETHER_RPC_POLL_STANDBY_H_
