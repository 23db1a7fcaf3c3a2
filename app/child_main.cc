#include <errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "app/parent_watch.h"
#include "app/serve.h"
#include "rpc/grpc_log.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/actor_identity.h"
#include "runtime/base/crash_report.h"
#include "runtime/base/log.h"
#include "runtime/process/shutdown_signal.h"
#include "runtime/process/spawner.h"
#include "tether/address.h"
#include "tether/main.h"

namespace tether {
namespace {

constexpr int kExitBadSpec = 2;
constexpr int kExitCannotServe = 3;

int Fail(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "tether child: %s: %s\n", std::string(what).c_str(),
               std::string(status.message()).c_str());
  return kExitBadSpec;
}

// Writes the whole report; the parent reads to end of file.
void WriteReport(int fd, const v1::ChildReport& report) {
  const std::string bytes = report.SerializeAsString();
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  close(fd);
}

}  // namespace

std::optional<int> RunAsChildIfSpawned(int argc, char** argv) {
  const char* spec_fd_text = std::getenv(kChildSpecFdEnv);
  if (spec_fd_text == nullptr) return std::nullopt;
  // argv[0] names the child ("tether-child:NAME"), not its binary.
  InstallCrashReport("/proc/self/exe");

  int spec_fd = -1;
  if (!absl::SimpleAtoi(spec_fd_text, &spec_fd) || spec_fd < 0) {
    return Fail("bad spec", absl::InvalidArgumentError(
                                absl::StrCat("malformed ", kChildSpecFdEnv)));
  }
  absl::StatusOr<v1::ChildSpec> spec = ReadChildSpec(spec_fd);
  if (!spec.ok()) return Fail("bad spec", spec.status());
  int report_fd = -1;
  const char* fd_text = std::getenv(kChildReportFdEnv);
  if (fd_text == nullptr || !absl::SimpleAtoi(fd_text, &report_fd) ||
      report_fd < 0) {
    return Fail("bad spec", absl::InvalidArgumentError(absl::StrCat(
                                "missing or malformed ", kChildReportFdEnv)));
  }
  // Programs this child starts are not children of its parent.
  unsetenv(kChildSpecFdEnv);
  unsetenv(kChildReportFdEnv);

  if (!spec->log_level().empty()) {
    absl::StatusOr<LogLevel> level = ParseLogLevel(spec->log_level());
    if (!level.ok()) return Fail("bad spec", level.status());
    SetLogLevel(*level);
  }
  absl::StatusOr<ActorIdentity> identity =
      ActorIdentity::WithUuid(spec->id().name(), spec->id().uuid());
  if (!identity.ok()) return Fail("bad spec", identity.status());
  absl::StatusOr<Address> listen =
      Address::Parse(spec->listen().empty() ? "127.0.0.1:0" : spec->listen());
  if (!listen.ok()) return Fail("bad spec", listen.status());
  SetLogActor(identity->name, identity->uuid);

  // Before gRPC starts threads, so they inherit the blocked signals.
  absl::StatusOr<std::unique_ptr<ShutdownSignal>> stop =
      ShutdownSignal::Install();
  if (!stop.ok()) return Fail("signals", stop.status());
  RouteGrpcLogsToTetherLog();

  ActorCore runtime(*identity);
  runtime.SetParent(spec->parent());
  runtime.SetRegistryAddresses(
      {spec->registry_addresses().begin(), spec->registry_addresses().end()});
  runtime.SetDebugMode(spec->debug_mode());
  if (spec->has_root()) runtime.SetRoot(spec->root());
  absl::StatusOr<TreeToken> token = TreeToken::Parse(spec->token());
  if (!token.ok()) return Fail("bad spec", token.status());
  runtime.SetToken(*std::move(token));
  ShutdownSignal* stop_signal = stop->get();
  ParentWatch parent_watch(spec->parent(), runtime.token(), [stop_signal] {
    stop_signal->Request("lost the link to its parent");
  });
  const absl::Status served =
      Serve(&runtime, *listen, stop->get(), [&](const Address& bound) {
        v1::ChildReport report;
        *report.mutable_actor() = runtime.ref();
        report.set_pid(getpid());
        WriteReport(report_fd, report);
      });
  if (!served.ok()) {
    std::fprintf(stderr, "tether child %s: cannot serve: %s\n",
                 identity->name.c_str(), std::string(served.message()).c_str());
    return kExitCannotServe;
  }
  return 0;
}

}  // namespace tether
