// File: rpc/grpc_log.h
//
// Routes gRPC's internal log lines through tether's logger, at debug level:
// gRPC reports every failure that matters to us through return values and
// statuses, which tether reports in its own words, so its internal chatter
// only shows with --log_level=debug.
//
//   RouteGrpcLogsToTetherLog();   // early in main(), before any gRPC call

#ifndef TETHER_RPC_GRPC_LOG_H_
#define TETHER_RPC_GRPC_LOG_H_

namespace tether {

// Idempotent. Honours the log level in force when it is called.
void RouteGrpcLogsToTetherLog();

}  // namespace tether

#endif  // TETHER_RPC_GRPC_LOG_H_
