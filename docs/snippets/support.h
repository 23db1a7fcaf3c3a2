// File: docs/snippets/support.h
//
// What the guide's example programs print about an outcome: one line that
// names the error's boxed type and the actors that matter (canceller,
// sender, source) by name, without uuids, so the output stays the same from
// run to run and docs/guide_test.py can compare it with the guide.
//
//   std::printf("%s\n", guide::Outcome(status).c_str());
//   // tether.ContextCancelled, canceller root, source worker

#ifndef TETHER_DOCS_SNIPPETS_SUPPORT_H_
#define TETHER_DOCS_SNIPPETS_SUPPORT_H_

#include <string>

#include "absl/status/status.h"

namespace guide {

// "OK"; for a Tether error "<type>[: <message>][, canceller C][, sender S],
// source A" (the message only for application, bad-argument and
// no-such-function errors; group members follow in brackets, sorted); for
// any other status tether::DescribeError's one line.
std::string Outcome(const absl::Status& status);

}  // namespace guide

#endif  // TETHER_DOCS_SNIPPETS_SUPPORT_H_
