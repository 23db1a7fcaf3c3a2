// File: testing/poll_until.h
//
// How a test waits for something it cannot be told about: it looks again,
// often, until a deadline, instead of sleeping for a guessed while. Every
// wait in the tests goes through PollUntil.
//
//   ASSERT_TRUE(PollUntil(absl::Now() + absl::Seconds(5),
//                         [&] { return Gone(pid); }))
//       << "the child outlived its parent";
//
// Thread-safety: a function; `condition` runs on the calling thread.

#ifndef TETHER_TESTING_POLL_UNTIL_H_
#define TETHER_TESTING_POLL_UNTIL_H_

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace tether {

// How often PollUntil looks by default: quick enough that a test does not
// notice, slow enough that the condition's own cost stays small.
inline constexpr absl::Duration kPollInterval = absl::Milliseconds(5);

// True once `condition()` holds; false if it still does not at `deadline`
// (it is asked one last time then). Sleeps `interval` between looks.
bool PollUntil(absl::Time deadline, absl::FunctionRef<bool()> condition,
               absl::Duration interval = kPollInterval);

}  // namespace tether

#endif  // TETHER_TESTING_POLL_UNTIL_H_
