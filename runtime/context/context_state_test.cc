// ContextState against docs/protocol.md section 2, cell by cell: every
// frame in every phase, for both sides and both kinds of function, with
// the phases reached by the frames that lead to them; then the data_count
// rules of section 3.

#include "runtime/context/context_state.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tether {
namespace {

using Phase = ContextState::Phase;
using Side = Context::Side;
using Verdict = ContextState::Verdict;

constexpr FrameKind kAllFrames[] = {
    FrameKind::kStart, FrameKind::kStartAck, FrameKind::kStarted,
    FrameKind::kYield, FrameKind::kStop,     FrameKind::kReturn,
    FrameKind::kError, FrameKind::kCancel,
};

// A state in `phase`, reached the way a context reaches it: by the frames
// each side sends. False when `phase` is not reachable for that side and
// kind (a plain function never streams).
bool Reach(ContextState& state, Phase phase) {
  const bool opener = state.side() == Side::kOpener;
  const bool plain = state.kind() == v1::FUNCTION_KIND_PLAIN;
  if (phase == Phase::kOpening) return opener;
  if (opener) {
    state.Sent(FrameKind::kStart);
    if (phase == Phase::kStarting) return true;
    EXPECT_EQ(state.Received(FrameKind::kStartAck), Verdict::kAccept);
    if (phase == Phase::kAcked) return true;
    if (phase == Phase::kStreaming) {
      if (plain) return false;
      EXPECT_EQ(state.Received(FrameKind::kStarted), Verdict::kAccept);
      return true;
    }
    if (!plain) {
      EXPECT_EQ(state.Received(FrameKind::kStarted), Verdict::kAccept);
    }
    // Owes one payload: Finishing's Yield has one to be legal for.
    EXPECT_EQ(state.Received(FrameKind::kReturn, plain ? 0 : 1),
              Verdict::kAccept);
    return true;
  }
  if (phase == Phase::kStarting) return true;
  state.Sent(FrameKind::kStartAck);
  if (phase == Phase::kAcked) return true;
  if (phase == Phase::kStreaming) {
    if (plain) return false;
    state.Sent(FrameKind::kStarted);
    return true;
  }
  if (!plain) state.Sent(FrameKind::kStarted);
  state.Sent(FrameKind::kReturn);
  return true;
}

// The frames the peer may send in `phase`, transcribed from the table of
// docs/protocol.md section 2 (Cancelling is no phase: it changes no cell).
// Everything else is a violation, except that a callee in Finishing
// ignores whatever crosses its final frame.
std::vector<FrameKind> Legal(Side side, v1::FunctionKind kind, Phase phase) {
  const bool plain = kind == v1::FUNCTION_KIND_PLAIN;
  if (side == Side::kOpener) {  // the callee's frames
    switch (phase) {
      case Phase::kOpening:
        return {};
      case Phase::kStarting:
        return {FrameKind::kStartAck, FrameKind::kError};
      case Phase::kAcked:
        if (plain) return {FrameKind::kReturn, FrameKind::kError};
        return {FrameKind::kStarted, FrameKind::kError};
      case Phase::kStreaming:
        return {FrameKind::kYield, FrameKind::kStop, FrameKind::kReturn,
                FrameKind::kError};
      case Phase::kFinishing:
        if (plain) return {};
        return {FrameKind::kYield};  // owed by Return's data_count
    }
  }
  switch (phase) {  // the opener's frames
    case Phase::kOpening:
      return {};
    case Phase::kStarting:
    case Phase::kAcked:
    case Phase::kStreaming:
      if (plain)
        return {FrameKind::kStop, FrameKind::kError, FrameKind::kCancel};
      return {FrameKind::kYield, FrameKind::kStop, FrameKind::kError,
              FrameKind::kCancel};
    case Phase::kFinishing:
      return {};
  }
  return {};
}

std::string Where(Side side, v1::FunctionKind kind, Phase phase,
                  FrameKind frame) {
  return std::string(side == Side::kOpener ? "opener" : "callee") + " of a " +
         (kind == v1::FUNCTION_KIND_PLAIN ? "plain" : "context") +
         " function in " + PhaseName(phase) + " receives " +
         FrameKindName(frame);
}

TEST(ContextStateTest, EveryCellOfTheLegalFramesTable) {
  int cells = 0;
  for (Side side : {Side::kOpener, Side::kCallee}) {
    for (v1::FunctionKind kind :
         {v1::FUNCTION_KIND_CONTEXT, v1::FUNCTION_KIND_PLAIN}) {
      for (Phase phase : {Phase::kOpening, Phase::kStarting, Phase::kAcked,
                          Phase::kStreaming, Phase::kFinishing}) {
        for (FrameKind frame : kAllFrames) {
          ContextState state(side, kind);
          if (!Reach(state, phase)) continue;
          ASSERT_EQ(state.phase(), phase);
          SCOPED_TRACE(Where(side, kind, phase, frame));
          const std::vector<FrameKind> legal = Legal(side, kind, phase);
          const bool is_legal =
              std::find(legal.begin(), legal.end(), frame) != legal.end();
          Verdict expected = is_legal ? Verdict::kAccept : Verdict::kViolation;
          if (side == Side::kCallee && phase == Phase::kFinishing) {
            expected = Verdict::kIgnore;
          }
          const Verdict verdict =
              state.Received(frame, frame == FrameKind::kYield ? 1 : 0);
          ++cells;
          EXPECT_EQ(verdict, expected) << state.problem();
          if (verdict == Verdict::kViolation) {
            EXPECT_FALSE(state.problem().empty());
            EXPECT_EQ(state.phase(), phase) << "a violation moves nothing";
          }
        }
      }
    }
  }
  // 2 sides x 2 kinds x 5 phases x 8 frames, less the unreachable ones:
  // a callee never opens, and plain functions never stream.
  EXPECT_EQ(cells, 2 * 2 * 5 * 8 - 2 * 8 - 2 * 8);
}

TEST(ContextStateTest, LegalFramesLeadWhereTheTableSays) {
  ContextState opener(Side::kOpener, v1::FUNCTION_KIND_CONTEXT);
  EXPECT_EQ(opener.phase(), Phase::kOpening);
  opener.Sent(FrameKind::kStart);
  EXPECT_EQ(opener.phase(), Phase::kStarting);
  opener.Received(FrameKind::kStartAck);
  EXPECT_EQ(opener.phase(), Phase::kAcked);
  opener.Received(FrameKind::kStarted);
  EXPECT_EQ(opener.phase(), Phase::kStreaming);
  opener.Received(FrameKind::kYield, 2);
  opener.Received(FrameKind::kStop, 2);
  EXPECT_EQ(opener.phase(), Phase::kStreaming);
  opener.Received(FrameKind::kReturn, 2);
  EXPECT_EQ(opener.phase(), Phase::kFinishing);

  ContextState errored(Side::kOpener, v1::FUNCTION_KIND_PLAIN);
  errored.Sent(FrameKind::kStart);
  EXPECT_EQ(errored.Received(FrameKind::kError), Verdict::kAccept);
  EXPECT_EQ(errored.phase(), Phase::kFinishing) << "a lone Error ends it";

  ContextState callee(Side::kCallee, v1::FUNCTION_KIND_CONTEXT);
  EXPECT_EQ(callee.phase(), Phase::kStarting);
  callee.Sent(FrameKind::kStartAck);
  EXPECT_EQ(callee.phase(), Phase::kAcked);
  EXPECT_FALSE(callee.may_send(FrameKind::kReturn))
      << "a context function sends Started before Return";
  callee.Sent(FrameKind::kStarted);
  EXPECT_EQ(callee.phase(), Phase::kStreaming);
  EXPECT_FALSE(callee.may_send(FrameKind::kStarted)) << "Started once";
  EXPECT_EQ(callee.Received(FrameKind::kCancel), Verdict::kAccept);
  EXPECT_EQ(callee.phase(), Phase::kStreaming) << "Cancel is no phase";
  callee.Sent(FrameKind::kError);
  EXPECT_EQ(callee.phase(), Phase::kFinishing);
  EXPECT_FALSE(callee.may_send(FrameKind::kReturn)) << "one final frame";
}

TEST(ContextStateTest, PayloadsPastAStopsDataCountAreAViolation) {
  ContextState callee(Side::kCallee, v1::FUNCTION_KIND_CONTEXT);
  callee.Sent(FrameKind::kStartAck);
  EXPECT_EQ(callee.Received(FrameKind::kStop, 0), Verdict::kAccept);
  EXPECT_EQ(callee.Received(FrameKind::kYield, 1), Verdict::kViolation);
  EXPECT_NE(callee.problem().find("more than the 0 its Stop announced"),
            std::string::npos)
      << callee.problem();
}

TEST(ContextStateTest, DataOwedByAStopMayArriveAfterIt) {
  // Control overtakes queued data (docs/protocol.md section 3).
  ContextState callee(Side::kCallee, v1::FUNCTION_KIND_CONTEXT);
  EXPECT_EQ(callee.Received(FrameKind::kYield, 1), Verdict::kAccept);
  EXPECT_EQ(callee.Received(FrameKind::kStop, 3), Verdict::kAccept);
  EXPECT_EQ(callee.Received(FrameKind::kYield, 2), Verdict::kAccept);
  EXPECT_EQ(callee.peer_payloads(), 3u);
  EXPECT_EQ(callee.Received(FrameKind::kYield, 1), Verdict::kViolation);
}

TEST(ContextStateTest, PayloadsPastAReturnsDataCountAreAViolation) {
  ContextState opener(Side::kOpener, v1::FUNCTION_KIND_CONTEXT);
  opener.Sent(FrameKind::kStart);
  opener.Received(FrameKind::kStartAck);
  opener.Received(FrameKind::kStarted);
  EXPECT_EQ(opener.Received(FrameKind::kReturn, 2), Verdict::kAccept);
  EXPECT_EQ(opener.Received(FrameKind::kYield, 2), Verdict::kAccept);
  EXPECT_EQ(opener.Received(FrameKind::kYield, 1), Verdict::kViolation);
}

TEST(ContextStateTest, AStopOrReturnBelowWhatArrivedIsAViolation) {
  ContextState callee(Side::kCallee, v1::FUNCTION_KIND_CONTEXT);
  callee.Received(FrameKind::kYield, 2);
  EXPECT_EQ(callee.Received(FrameKind::kStop, 1), Verdict::kViolation);
  EXPECT_FALSE(callee.peer_stopped()) << "a violation records nothing";

  ContextState opener(Side::kOpener, v1::FUNCTION_KIND_CONTEXT);
  opener.Sent(FrameKind::kStart);
  opener.Received(FrameKind::kStartAck);
  opener.Received(FrameKind::kStarted);
  opener.Received(FrameKind::kYield, 2);
  EXPECT_EQ(opener.Received(FrameKind::kReturn, 1), Verdict::kViolation);
}

TEST(ContextStateTest, AReturnDisagreeingWithTheStopBeforeItIsAViolation) {
  ContextState opener(Side::kOpener, v1::FUNCTION_KIND_CONTEXT);
  opener.Sent(FrameKind::kStart);
  opener.Received(FrameKind::kStartAck);
  opener.Received(FrameKind::kStarted);
  EXPECT_EQ(opener.Received(FrameKind::kStop, 1), Verdict::kAccept);
  EXPECT_EQ(opener.Received(FrameKind::kReturn, 2), Verdict::kViolation);
  EXPECT_EQ(opener.Received(FrameKind::kReturn, 1), Verdict::kAccept);
}

TEST(ContextStateTest, StopIsSentOnceEachWay) {
  ContextState callee(Side::kCallee, v1::FUNCTION_KIND_CONTEXT);
  EXPECT_EQ(callee.Received(FrameKind::kStop, 0), Verdict::kAccept);
  EXPECT_EQ(callee.Received(FrameKind::kStop, 0), Verdict::kViolation);

  callee.Sent(FrameKind::kStartAck);
  callee.Sent(FrameKind::kStarted);
  EXPECT_TRUE(callee.may_send(FrameKind::kStop));
  callee.Sent(FrameKind::kStop);
  EXPECT_TRUE(callee.stopped());
  EXPECT_FALSE(callee.may_send(FrameKind::kStop));
  EXPECT_FALSE(callee.may_send(FrameKind::kYield));
}

TEST(ContextStateTest, HalfCloseIsAStopAfterWhatArrived) {
  ContextState callee(Side::kCallee, v1::FUNCTION_KIND_CONTEXT);
  callee.Received(FrameKind::kYield, 2);
  EXPECT_EQ(callee.ReceivedHalfClose(), Verdict::kAccept);
  EXPECT_EQ(callee.peer_data_count(), 2u);
  EXPECT_EQ(callee.Received(FrameKind::kYield, 1), Verdict::kViolation);

  ContextState stopped(Side::kCallee, v1::FUNCTION_KIND_CONTEXT);
  stopped.Received(FrameKind::kStop, 4);
  EXPECT_EQ(stopped.ReceivedHalfClose(), Verdict::kIgnore)
      << "half-closing after Stop is how a client ends its side";
  EXPECT_EQ(stopped.peer_data_count(), 4u);
}

TEST(ContextStateTest, AnErrorIsAppliedEvenWhenItsCountIsWrong) {
  ContextState opener(Side::kOpener, v1::FUNCTION_KIND_CONTEXT);
  opener.Sent(FrameKind::kStart);
  opener.Received(FrameKind::kStartAck);
  opener.Received(FrameKind::kStarted);
  opener.Received(FrameKind::kYield, 3);
  EXPECT_EQ(opener.Received(FrameKind::kError, 1), Verdict::kAccept);
  EXPECT_EQ(opener.phase(), Phase::kFinishing);
  EXPECT_EQ(opener.Received(FrameKind::kYield, 1), Verdict::kViolation);
}

}  // namespace
}  // namespace tether
