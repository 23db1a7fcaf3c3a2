#include "rpc/grpc_log.h"

#include "grpc/support/log.h"
#include "runtime/base/log.h"

namespace tether {
namespace {

void LogGrpcLine(gpr_log_func_args* args) {
  TETHER_LOG(kDebug) << "grpc " << gpr_log_severity_string(args->severity)
                     << " " << args->file << ":" << args->line << " "
                     << args->message;
}

}  // namespace

void RouteGrpcLogsToTetherLog() {
  gpr_set_log_function(LogGrpcLine);
  // gRPC formats a line before handing it over; skip that work unless the
  // line can be shown.
  gpr_set_log_verbosity(LogEnabled(LogLevel::kDebug) ? GPR_LOG_SEVERITY_INFO
                                                     : GPR_LOG_SEVERITY_ERROR);
}

}  // namespace tether
