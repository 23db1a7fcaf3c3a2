#include "runtime/base/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "absl/debugging/symbolize.h"

namespace tether {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
// Frames printed from the faulting one outwards. With the two framing
// lines the report fits the stderr tail a parent keeps
// (runtime/process/spawner.cc).
constexpr int kMaxFrames = 32;
// Room for the handler's own frames and the signal trampoline as well.
constexpr int kMaxUnwound = kMaxFrames + 8;
// Symbolize and the report's line buffers need a few KiB; sanitizer
// instrumentation more.
constexpr size_t kAltStackSize = 128 * 1024;

// The thread writing a report, 0 while none is.
std::atomic<pid_t> reporting_tid{0};

const char* SignalName(int signal) {
  switch (signal) {
    case SIGSEGV:
      return "SIGSEGV (Segmentation fault)";
    case SIGBUS:
      return "SIGBUS (Bus error)";
    case SIGFPE:
      return "SIGFPE (Floating-point exception)";
    case SIGILL:
      return "SIGILL (Illegal instruction)";
    case SIGABRT:
      return "SIGABRT (Aborted)";
    case SIGTRAP:
      return "SIGTRAP (Trace/breakpoint trap)";
    default:
      return "a fatal signal";
  }
}

// One line of the report, built on the handler's stack and written whole
// with write(2). Text past the buffer's end is dropped.
class Line {
 public:
  Line& Add(const char* text) {
    while (*text != '\0' && size_ < sizeof(buffer_)) buffer_[size_++] = *text++;
    return *this;
  }
  Line& AddDecimal(uint64_t value) {
    char digits[20];
    int count = 0;
    do {
      digits[count++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    while (count > 0 && size_ < sizeof(buffer_))
      buffer_[size_++] = digits[--count];
    return *this;
  }
  Line& AddHex(uintptr_t value) {
    Add("0x");
    char digits[2 * sizeof(value)];
    int count = 0;
    do {
      digits[count++] = "0123456789abcdef"[value & 0xf];
      value >>= 4;
    } while (value != 0);
    while (count > 0 && size_ < sizeof(buffer_))
      buffer_[size_++] = digits[--count];
    return *this;
  }
  // Ends the line and writes it to stderr.
  void Write() {
    if (size_ == sizeof(buffer_)) --size_;
    buffer_[size_++] = '\n';
    size_t written = 0;
    while (written < size_) {
      const ssize_t n =
          write(STDERR_FILENO, buffer_ + written, size_ - written);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    size_ = 0;
  }

 private:
  char buffer_[1200];
  size_t size_ = 0;
};

// The interrupted instruction, as the kernel saved it; 0 where unknown.
uintptr_t InterruptedPc(const void* context) {
  if (context == nullptr) return 0;
  const auto* uc = static_cast<const ucontext_t*>(context);
#if defined(__x86_64__)
  return static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return static_cast<uintptr_t>(uc->uc_mcontext.pc);
#else
  (void)uc;
  return 0;
#endif
}

// A fault (not a signal sent with kill/raise) has an address.
bool HasFaultAddress(const siginfo_t* info) {
  return info->si_code > 0 && info->si_signo != SIGABRT;
}

void WriteReport(int signal, const siginfo_t* info, const void* context) {
  Line line;
  line.Add("*** ")
      .Add(SignalName(signal))
      .Add(" in pid ")
      .AddDecimal(static_cast<uint64_t>(getpid()))
      .Add(" tid ")
      .AddDecimal(static_cast<uint64_t>(syscall(SYS_gettid)));
  if (HasFaultAddress(info)) {
    line.Add(", fault address ")
        .AddHex(reinterpret_cast<uintptr_t>(info->si_addr));
  } else if (info->si_code <= 0) {
    line.Add(", sent by pid ").AddDecimal(static_cast<uint64_t>(info->si_pid));
  }
  line.Add("; stack of the faulting thread, innermost first:").Write();

  void* frames[kMaxUnwound];
  const int count = backtrace(frames, kMaxUnwound);
  // The handler's own frames and the kernel's signal trampoline come
  // first; the stack proper starts at the interrupted instruction.
  const uintptr_t pc = InterruptedPc(context);
  int first = 0;
  for (int i = 0; i < count; ++i) {
    if (reinterpret_cast<uintptr_t>(frames[i]) == pc) {
      first = i;
      break;
    }
  }
  const int last = first + kMaxFrames < count ? first + kMaxFrames : count;
  for (int i = first; i < last; ++i) {
    const uintptr_t address = reinterpret_cast<uintptr_t>(frames[i]);
    // Callers' entries are return addresses, which may already lie in the
    // next function (after a call to a noreturn function such as abort):
    // the call instruction is one byte back.
    const uintptr_t lookup = i == first ? address : address - 1;
    char symbol[1024];
    const bool known = absl::Symbolize(reinterpret_cast<const void*>(lookup),
                                       symbol, sizeof(symbol));
    line.Add("    @ ").AddHex(address).Add(" ").Add(known ? symbol
                                                          : "(unknown)");
    line.Write();
  }
  if (count == kMaxUnwound) line.Add("    ... (more frames not shown)").Write();
  line.Add("*** end of the crash report of pid ")
      .AddDecimal(static_cast<uint64_t>(getpid()))
      .Write();
}

// Restores the default disposition and raises `signal` again. It is
// blocked while its handler runs, so it is delivered, and kills the
// process, as soon as the handler returns (a fault would also recur).
void DieOf(int signal) {
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(signal, &default_action, nullptr);
  raise(signal);
}

void OnFatalSignal(int signal, siginfo_t* info, void* context) {
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  pid_t reporter = 0;
  if (!reporting_tid.compare_exchange_strong(reporter, tid)) {
    // This thread crashed while reporting: die without a report.
    if (reporter == tid) return DieOf(signal);
    // Another thread reports; its raise ends the process.
    while (true) pause();
  }
  WriteReport(signal, info, context);
  DieOf(signal);
}

// Gives the calling thread an alternate signal stack unless it has one;
// returns the memory to unmap later, or null when none was installed.
void* InstallAltStack() {
  stack_t current = {};
  if (sigaltstack(nullptr, &current) != 0) return nullptr;
  if ((current.ss_flags & SS_DISABLE) == 0) return nullptr;  // has one
  void* memory = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  stack_t ours = {};
  ours.ss_sp = memory;
  ours.ss_size = kAltStackSize;
  if (sigaltstack(&ours, nullptr) != 0) {
    munmap(memory, kAltStackSize);
    return nullptr;
  }
  return memory;
}

}  // namespace

void InstallCrashReport(const char* binary) {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return;
  absl::InitializeSymbolizer(binary);
  // The first backtrace() loads the unwinder (libgcc_s), which mallocs: do
  // it now rather than in the handler.
  void* warm_up[1];
  backtrace(warm_up, 1);
  // The calling thread's stack stays for the life of the process.
  InstallAltStack();

  struct sigaction action = {};
  action.sa_sigaction = OnFatalSignal;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int signal : kSignals) sigaction(signal, &action, nullptr);
}

CrashReportStack::CrashReportStack() : stack_(InstallAltStack()) {}

CrashReportStack::~CrashReportStack() {
  if (stack_ == nullptr) return;
  stack_t off = {};
  off.ss_flags = SS_DISABLE;
  sigaltstack(&off, nullptr);
  munmap(stack_, kAltStackSize);
}

}  // namespace tether
