// File: runtime/context/context_state.h
//
// The per-context state machine of docs/protocol.md section 2, as one side
// sees it. Each side of a context keeps one ContextState: the phase its
// context is in (the rows of that section's table of legal frames), the
// frames the peer may send in each phase and where each legal one leads,
// and how many payloads the peer may still send after its Stop, Return or
// Error announced a data_count. ContextCore asks it about every frame the
// peer sends and tells it every frame its own side sends; nothing else in
// the runtime decides what is legal.
//
//   ContextState state(Context::Side::kOpener, v1::FUNCTION_KIND_CONTEXT);
//   state.Sent(FrameKind::kStart);                      // kStarting
//   state.Received(FrameKind::kStartAck);               // kAccept: kAcked
//   state.Received(FrameKind::kYield, /*count=*/2);     // kViolation:
//   state.problem();    // "the callee sent Yield before Started"
//
// Thread-compatible: ContextCore calls it with its mutex held.

#ifndef TETHER_RUNTIME_CONTEXT_CONTEXT_STATE_H_
#define TETHER_RUNTIME_CONTEXT_CONTEXT_STATE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "tether/context.h"
#include "tether/v1/frame.pb.h"

namespace tether {

// The frames of tether.v1.Frame's oneof.
enum class FrameKind {
  kStart,
  kStartAck,
  kStarted,
  kYield,
  kStop,
  kReturn,
  kError,
  kCancel,
};
inline constexpr int kFrameKinds = 8;

// "Start", "StartAck", ... as the protocol names them.
const char* FrameKindName(FrameKind kind);
// The kind of a parsed frame; nullopt for a frame with no kind set.
std::optional<FrameKind> FrameKindOf(const v1::Frame& frame);

class ContextState {
 public:
  // The phases of docs/protocol.md's table, in the order a context goes
  // through them. The table's Cancelling row is no phase: a Cancel changes
  // which frames are legal in no phase (ContextCore records who asked).
  enum class Phase {
    kOpening,    // the opener has sent nothing
    kStarting,   // Start sent, no StartAck yet
    kAcked,      // StartAck sent, no Started yet
    kStreaming,  // Started sent: data may flow both ways
    kFinishing,  // the callee's Return or Error sent: only owed data follows
  };
  static constexpr int kPhases = 5;

  // What to do with a frame the peer sent.
  enum class Verdict {
    kAccept,     // legal: act on it
    kIgnore,     // legal and without effect: it crossed the end on the wire
    kViolation,  // not legal now: the context ends with a protocol error
  };

  // A callee's context begins with the Start it was made from (kStarting);
  // an opener's before anything was sent (kOpening). `kind` is the
  // function's kind (PLAIN or CONTEXT).
  ContextState(Context::Side side, v1::FunctionKind kind);

  // A frame from the peer. `count`: a Yield's payloads, or the data_count
  // of a Stop, Return or Error. An accepted frame moves the phase on; a
  // violation leaves everything as it was and says why in problem().
  Verdict Received(FrameKind kind, uint64_t count = 0);

  // The peer half-closed its sending side without Stop: the same as a Stop
  // announcing every payload received so far.
  Verdict ReceivedHalfClose();

  // This side sent `kind`. Only the moves this side may make are allowed:
  // the opener's Start, the callee's StartAck, Started, Return and Error
  // move the phase on; Yield, Stop and Cancel leave it. REQUIRES: `kind`
  // is legal for this side now (may_send()); the runtime checks a user's
  // misuse before it gets here.
  void Sent(FrameKind kind);
  // Whether this side may send `kind` now.
  bool may_send(FrameKind kind) const;

  Context::Side side() const { return side_; }
  v1::FunctionKind kind() const { return kind_; }
  Phase phase() const { return phase_; }
  // Why the last frame was a violation.
  const std::string& problem() const { return problem_; }

  // This side sent its Stop.
  bool stopped() const { return stopped_; }
  // The peer announced the end of its data (Stop, Return, Error or a
  // half-close), and how many payloads it sent in all.
  bool peer_stopped() const { return peer_end_.has_value(); }
  std::optional<uint64_t> peer_data_count() const { return peer_end_; }
  // Payloads received from the peer so far.
  uint64_t peer_payloads() const { return peer_payloads_; }

  // What a cell of the legal-frames table says about a frame
  // (context_state.cc has the tables).
  enum class Rule;

 private:
  static Rule RuleFor(Context::Side side, Phase phase, FrameKind kind);

  // Accepts a Yield of `count` payloads unless it passes an announced end.
  Verdict Data(uint64_t count);
  // Records the end the peer announced unless it contradicts what arrived.
  Verdict End(const char* what, uint64_t data_count);
  Verdict Violate(std::string problem);
  // "the callee" or "the opener": who sends what this side receives.
  const char* Peer() const;

  const Context::Side side_;
  const v1::FunctionKind kind_;
  Phase phase_;
  bool stopped_ = false;
  uint64_t peer_payloads_ = 0;
  std::optional<uint64_t> peer_end_;
  // The frame that announced peer_end_: "Stop", "Return", "Error" or
  // "half-close".
  const char* peer_end_by_ = "";
  std::string problem_;
};

const char* PhaseName(ContextState::Phase phase);

}  // namespace tether

#endif  // TETHER_RUNTIME_CONTEXT_CONTEXT_STATE_H_
