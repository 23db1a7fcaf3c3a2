#include "runtime/context/context_state.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tether {

// What a cell of the tables below says about a frame from the peer.
enum class ContextState::Rule {
  kIllegal,  // not legal in this phase: a violation
  kMoot,     // crossed the callee's final frame on the wire: no effect
  kAck,      // StartAck: on to kAcked
  kStarted,  // Started, from a context function: on to kStreaming
  kData,     // Yield, within the end the sender announced (to a callee:
             // for context functions only)
  kStop,     // Stop, once, announcing the sender's data_count
  kReturn,   // Return: on to kFinishing (from kAcked: plain functions only)
  kError,    // Error: to the opener, on to kFinishing; to the callee,
             // applied on arrival
  kCancel,   // Cancel, to the callee: applied on arrival
};

namespace {

using Rule = ContextState::Rule;
using Phase = ContextState::Phase;

constexpr Rule I = Rule::kIllegal;
constexpr Rule M = Rule::kMoot;

// docs/protocol.md section 2, "Legal frames per state": what the peer may
// send in each phase. Columns follow FrameKind: Start, StartAck, Started,
// Yield, Stop, Return, Error, Cancel.
//
// The opener receives the callee's frames:
constexpr Rule kOpenerReceives[ContextState::kPhases][kFrameKinds] = {
    // kOpening: the opener has sent nothing, so nothing can answer it.
    {I, I, I, I, I, I, I, I},
    // kStarting: StartAck, or a lone Error instead of it.
    {I, Rule::kAck, I, I, I, I, Rule::kError, I},
    // kAcked: Started (context function) or Return (plain function), or
    // Error.
    {I, I, Rule::kStarted, I, I, Rule::kReturn, Rule::kError, I},
    // kStreaming: data until its Stop, its Stop once, then Return or Error.
    {I, I, I, Rule::kData, Rule::kStop, Rule::kReturn, Rule::kError, I},
    // kFinishing: only the Yield frames that Return's (or Error's)
    // data_count still owes.
    {I, I, I, Rule::kData, I, I, I, I},
};
// The callee receives the opener's frames. A callee's context is made from
// its Start, so it never is in kOpening.
constexpr Rule kCalleeReceives[ContextState::kPhases][kFrameKinds] = {
    // kOpening: no callee is here.
    {I, I, I, I, I, I, I, I},
    // kStarting, kAcked, kStreaming: data (pipelined behind Start before
    // Started), its Stop once, Cancel and Error at any time.
    {I, I, I, Rule::kData, Rule::kStop, I, Rule::kError, Rule::kCancel},
    {I, I, I, Rule::kData, Rule::kStop, I, Rule::kError, Rule::kCancel},
    {I, I, I, Rule::kData, Rule::kStop, I, Rule::kError, Rule::kCancel},
    // kFinishing: the callee's final frame is sent; what crosses it has no
    // effect.
    {M, M, M, M, M, M, M, M},
};

}  // namespace

const char* FrameKindName(FrameKind kind) {
  switch (kind) {
    case FrameKind::kStart:
      return "Start";
    case FrameKind::kStartAck:
      return "StartAck";
    case FrameKind::kStarted:
      return "Started";
    case FrameKind::kYield:
      return "Yield";
    case FrameKind::kStop:
      return "Stop";
    case FrameKind::kReturn:
      return "Return";
    case FrameKind::kError:
      return "Error";
    case FrameKind::kCancel:
      return "Cancel";
  }
  return "an unknown frame";
}

std::optional<FrameKind> FrameKindOf(const v1::Frame& frame) {
  switch (frame.kind_case()) {
    case v1::Frame::kStart:
      return FrameKind::kStart;
    case v1::Frame::kStartAck:
      return FrameKind::kStartAck;
    case v1::Frame::kStarted:
      return FrameKind::kStarted;
    case v1::Frame::kYieldBatch:
      return FrameKind::kYield;
    case v1::Frame::kStop:
      return FrameKind::kStop;
    case v1::Frame::kReturned:
      return FrameKind::kReturn;
    case v1::Frame::kError:
      return FrameKind::kError;
    case v1::Frame::kCancel:
      return FrameKind::kCancel;
    case v1::Frame::KIND_NOT_SET:
      break;
  }
  return std::nullopt;
}

const char* PhaseName(ContextState::Phase phase) {
  switch (phase) {
    case Phase::kOpening:
      return "Opening";
    case Phase::kStarting:
      return "Starting";
    case Phase::kAcked:
      return "Acked";
    case Phase::kStreaming:
      return "Streaming";
    case Phase::kFinishing:
      return "Finishing";
  }
  return "an unknown phase";
}

ContextState::ContextState(Context::Side side, v1::FunctionKind kind)
    : side_(side),
      kind_(kind),
      phase_(side == Context::Side::kOpener ? Phase::kOpening
                                            : Phase::kStarting) {}

ContextState::Rule ContextState::RuleFor(Context::Side side, Phase phase,
                                         FrameKind kind) {
  const auto& table =
      side == Context::Side::kOpener ? kOpenerReceives : kCalleeReceives;
  return table[static_cast<int>(phase)][static_cast<int>(kind)];
}

ContextState::Verdict ContextState::Received(FrameKind kind, uint64_t count) {
  const bool plain = kind_ == v1::FUNCTION_KIND_PLAIN;
  switch (RuleFor(side_, phase_, kind)) {
    case Rule::kIllegal:
      break;
    case Rule::kMoot:
      return Verdict::kIgnore;
    case Rule::kAck:
      phase_ = Phase::kAcked;
      return Verdict::kAccept;
    case Rule::kStarted:
      if (plain) {
        return Violate("the callee sent Started for a plain function");
      }
      phase_ = Phase::kStreaming;
      return Verdict::kAccept;
    case Rule::kData:
      if (plain) {
        return Violate(
            absl::StrCat(Peer(), " sent Yield in a plain function's context"));
      }
      return Data(count);
    case Rule::kStop:
      if (peer_stopped()) {
        return Violate(absl::StrCat(Peer(), " sent Stop twice"));
      }
      return End("Stop", count);
    case Rule::kReturn: {
      if (phase_ == Phase::kAcked && !plain) {
        return Violate(
            "the callee sent Return before Started (a context function "
            "sends Started first)");
      }
      const Verdict verdict = End("Return", count);
      if (verdict == Verdict::kAccept) phase_ = Phase::kFinishing;
      return verdict;
    }
    case Rule::kError:
      if (side_ == Context::Side::kCallee) return Verdict::kAccept;
      {
        // Applied on arrival whatever its count; data in flight behind it
        // is dropped, but more than it announced is still a violation.
        const Verdict verdict = End("Error", count);
        if (verdict != Verdict::kAccept) {
          peer_end_ = peer_payloads_;
          peer_end_by_ = "Error";
        }
        phase_ = Phase::kFinishing;
        return Verdict::kAccept;
      }
    case Rule::kCancel:
      return Verdict::kAccept;
  }
  return Violate(absl::StrCat(Peer(), " sent ", FrameKindName(kind), " in ",
                              PhaseName(phase_), " (docs/protocol.md §2)"));
}

ContextState::Verdict ContextState::ReceivedHalfClose() {
  if (peer_stopped() || phase_ == Phase::kFinishing) return Verdict::kIgnore;
  peer_end_ = peer_payloads_;
  peer_end_by_ = "half-close";
  return Verdict::kAccept;
}

ContextState::Verdict ContextState::Data(uint64_t count) {
  if (peer_end_.has_value() && peer_payloads_ + count > *peer_end_) {
    return Violate(absl::StrCat(Peer(), " sent ", peer_payloads_ + count,
                                " payloads, more than the ", *peer_end_,
                                " its ", peer_end_by_, " announced"));
  }
  peer_payloads_ += count;
  return Verdict::kAccept;
}

ContextState::Verdict ContextState::End(const char* what, uint64_t data_count) {
  if (data_count < peer_payloads_) {
    return Violate(absl::StrCat(Peer(), " sent ", what, " with data_count ",
                                data_count, " after ", peer_payloads_,
                                " payloads had arrived"));
  }
  if (peer_end_.has_value() && data_count != *peer_end_) {
    return Violate(absl::StrCat(Peer(), " sent ", what, " with data_count ",
                                data_count, " after its ", peer_end_by_,
                                " announced ", *peer_end_));
  }
  peer_end_ = data_count;
  peer_end_by_ = what;
  return Verdict::kAccept;
}

ContextState::Verdict ContextState::Violate(std::string problem) {
  problem_ = std::move(problem);
  return Verdict::kViolation;
}

const char* ContextState::Peer() const {
  return side_ == Context::Side::kOpener ? "the callee" : "the opener";
}

bool ContextState::may_send(FrameKind kind) const {
  const bool opener = side_ == Context::Side::kOpener;
  switch (kind) {
    case FrameKind::kStart:
      return opener && phase_ == Phase::kOpening;
    case FrameKind::kStartAck:
      return !opener && phase_ == Phase::kStarting;
    case FrameKind::kStarted:
      return !opener && phase_ == Phase::kAcked &&
             kind_ != v1::FUNCTION_KIND_PLAIN;
    case FrameKind::kYield:
    case FrameKind::kStop:
      return !stopped_ && phase_ != Phase::kOpening &&
             (opener || phase_ == Phase::kStreaming);
    case FrameKind::kReturn:
      return !opener &&
             (phase_ == Phase::kStreaming ||
              (phase_ == Phase::kAcked && kind_ == v1::FUNCTION_KIND_PLAIN));
    case FrameKind::kError:
      return opener || phase_ != Phase::kFinishing;
    case FrameKind::kCancel:
      return opener && phase_ != Phase::kOpening;
  }
  return false;
}

void ContextState::Sent(FrameKind kind) {
  if (!may_send(kind)) {
    // A runtime bug: user misuse is refused before it gets here.
    std::fprintf(stderr, "tether: the %s may not send %s in %s\n",
                 side_ == Context::Side::kOpener ? "opener" : "callee",
                 FrameKindName(kind), PhaseName(phase_));
    std::abort();
  }
  switch (kind) {
    case FrameKind::kStart:
      phase_ = Phase::kStarting;
      break;
    case FrameKind::kStartAck:
      phase_ = Phase::kAcked;
      break;
    case FrameKind::kStarted:
      phase_ = Phase::kStreaming;
      break;
    case FrameKind::kStop:
      stopped_ = true;
      break;
    case FrameKind::kReturn:
      phase_ = Phase::kFinishing;
      break;
    case FrameKind::kError:
      if (side_ == Context::Side::kCallee) phase_ = Phase::kFinishing;
      break;
    case FrameKind::kYield:
    case FrameKind::kCancel:
      break;
  }
}

}  // namespace tether
