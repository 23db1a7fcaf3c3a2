#include "runtime/base/crash_report.h"

#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>
#include <thread>

#include "gtest/gtest.h"

namespace tether {
namespace {

// Each death test's child installs the report, then dies; the parent
// matches the child's stderr (a regex over all of it).
void Install() {
  const rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  InstallCrashReport("/proc/self/exe");
}

// Not inlined, so each is a frame of its own that the report must name.
__attribute__((noinline)) void StoreToUnmappedAddress() {
  // Not null: under --config=asan, UBSan would report a null store first.
  volatile uintptr_t unmapped = 8;
  *reinterpret_cast<volatile int*>(unmapped) = 1;
}

__attribute__((noinline)) void AbortHere() { std::abort(); }

// Never reached: the recursion overflows first.
volatile int recursion_limit = 1 << 30;

__attribute__((noinline)) int Recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (depth == recursion_limit) return frame[0];
  return Recurse(depth + 1) + frame[0];
}

TEST(CrashReportDeathTest, SegfaultNamesTheSignalAndTheFaultingFunction) {
  EXPECT_EXIT(
      {
        Install();
        StoreToUnmappedAddress();
      },
      testing::KilledBySignal(SIGSEGV),
      "\\*\\*\\* SIGSEGV \\(Segmentation fault\\) in pid [0-9]+ tid [0-9]+, "
      "fault address 0x8; stack of the faulting thread, innermost first:\n"
      "    @ 0x[0-9a-f]+ [^\n]*StoreToUnmappedAddress\\(\\)\n"
      "(    @ [^\n]*\n)*"
      "\\*\\*\\* end of the crash report of pid [0-9]+\n");
}

// abort() raises inside glibc; the callers' frames name the function
// that called it.
TEST(CrashReportDeathTest, AbortShowsTheCallerOfAbort) {
  EXPECT_EXIT(
      {
        Install();
        AbortHere();
      },
      testing::KilledBySignal(SIGABRT),
      "\\*\\*\\* SIGABRT \\(Aborted\\) in pid [0-9]+ tid [0-9]+, sent by pid "
      "[0-9]+;[^\n]*\n"
      "(    @ [^\n]*\n)*"
      "    @ 0x[0-9a-f]+ [^\n]*abort[^\n]*\n"
      "    @ 0x[0-9a-f]+ [^\n]*AbortHere\\(\\)\n");
}

TEST(CrashReportDeathTest, RaisedSignalNamesItsSender) {
  EXPECT_EXIT(
      {
        Install();
        raise(SIGILL);
      },
      testing::KilledBySignal(SIGILL),
      "\\*\\*\\* SIGILL \\(Illegal instruction\\) in pid ([0-9]+) tid "
      "[0-9]+, sent by pid [0-9]+;");
}

// The report runs on the alternate stack of a thread that holds a
// CrashReportStack, so an overflow still shows the recursing function.
TEST(CrashReportDeathTest, StackOverflowInAThreadIsReported) {
  EXPECT_EXIT(
      {
        Install();
        std::thread overflowing([] {
          CrashReportStack alternate;
          Recurse(0);
        });
        overflowing.join();
      },
      testing::KilledBySignal(SIGSEGV),
      "\\*\\*\\* SIGSEGV [^\n]*\n"
      "    @ 0x[0-9a-f]+ [^\n]*Recurse\\(\\)\n");
}

}  // namespace
}  // namespace tether
