// File: runtime/base/crash_report.h
//
// A fatal signal's report on stderr. Once installed, a SIGSEGV, SIGBUS,
// SIGFPE, SIGILL, SIGABRT or SIGTRAP writes the signal's name, the pid and
// thread, the fault address where there is one, and the symbolized stack
// of the thread that received it, innermost frame first:
//
//   *** SIGSEGV (Segmentation fault) in pid 4242 tid 4250, fault address
//       0x8; stack of the faulting thread, innermost first:
//       @ 0x55d0c1a2b3c4 tether::SegfaultMidCall()
//       @ 0x55d0c1a2b5e0 tether::FunctionRegistry::Call()
//   *** end of the crash report of pid 4242
//
// (the first line is one line in the output). Then the signal's default
// disposition is restored and the signal raised again, so the process
// still dies of it and its wait status says so. A parent reads the report
// in the tail of the child's stderr (runtime/process/spawner.h); a nursery puts
// that tail in the child's ActorFailure.
//
//   int main(int argc, char** argv) {
//     tether::InstallCrashReport(argv[0]);
//     ...
//   }
//
// Stack overflows: the handler runs on an alternate signal stack. A thread
// has one only if it was installed on it: InstallCrashReport does so for
// the calling thread, and a thread that runs user code (runtime/task/task.cc)
// holds a CrashReportStack for its lifetime. An overflow on any other
// thread still kills the process with SIGSEGV, without a report.
//
// Async-signal safety: the handler writes with write(2) only, formats
// numbers itself and allocates nothing. Two steps are not async-signal-safe
// by POSIX and are accepted for a process that is dying anyway:
// backtrace(3), whose unwinder is loaded and initialized at install time
// so the handler's call does not load a library or malloc, and
// absl::Symbolize, which reads ELF files with open/read/mmap and uses
// abseil's signal-safe arena. A second crash while reporting restores the
// default disposition and dies at once; a crash in another thread while a
// report is being written waits for the report's end (the process dies).
//
// Under AddressSanitizer (--config=asan): ASan installs its own SIGSEGV,
// SIGBUS and SIGFPE handlers, but lets a program's sigaction replace them
// (its default allow_user_segv_handler=1). InstallCrashReport runs after
// ASan's initialization, so this report is the one printed for every
// signal above, under ASan as well; the process dies of the same signal
// in both builds. ASan's own reports of memory errors (heap overflow, use
// after free) do not go through a signal and are unchanged.

#ifndef TETHER_RUNTIME_BASE_CRASH_REPORT_H_
#define TETHER_RUNTIME_BASE_CRASH_REPORT_H_

namespace tether {

// Installs the handler for the signals above and an alternate signal stack
// for the calling thread, and prepares the symbolizer for `binary` (the
// program's path: argv[0], or "/proc/self/exe" when argv[0] is a name).
// Call once, early in main(), before threads start. Idempotent.
void InstallCrashReport(const char* binary);

// An alternate signal stack for the current thread while the object lives,
// so the crash report can run when this thread overflows its stack. Does
// nothing on a thread that already has one (ASan gives its threads one).
// Construct and destroy on the same thread.
class CrashReportStack {
 public:
  CrashReportStack();
  ~CrashReportStack();
  CrashReportStack(const CrashReportStack&) = delete;
  CrashReportStack& operator=(const CrashReportStack&) = delete;

 private:
  void* const stack_;  // ours to unmap, or null
};

}  // namespace tether

#endif  // TETHER_RUNTIME_BASE_CRASH_REPORT_H_
