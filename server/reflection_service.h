// File: server/reflection_service.h
//
// grpc.reflection.v1alpha.ServerReflection for an actor, on gRPC's async
// API and served by its CallAcceptor (server/served_on_queue.h) like every
// other method. It answers from the descriptors compiled into the binary
// (server/served_descriptors.h), which carry the .proto comments and JSON
// names, and lists the services this server serves. Like every method but
// Health/Check, only callers with the tree's token get answers
// (CallRequester::Admit).
//
// Each ServerReflectionInfo stream answers its requests in order, one
// response each; requests it cannot answer get an error_response
// (NOT_FOUND for an unknown name, UNIMPLEMENTED for an empty request), as
// gRPC's own reflection service does.
//
//   ReflectionService reflection({"tether.v1.Actor", "grpc.health.v1.Health",
//                                 ...});
//   builder.RegisterService(&reflection);
//   ...                                // a CallAcceptor serves it
//
// Thread-compatible: every event of its calls is handled on the
// acceptor's draining thread.

#ifndef TETHER_SERVER_REFLECTION_SERVICE_H_
#define TETHER_SERVER_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "server/served_on_queue.h"

namespace tether {

using ReflectionServiceBase = grpc::reflection::v1alpha::ServerReflection::
    WithAsyncMethod_ServerReflectionInfo<
        grpc::reflection::v1alpha::ServerReflection::Service>;

class ReflectionService final : public ReflectionServiceBase,
                                public ServedOnQueue {
 public:
  using Request = grpc::reflection::v1alpha::ServerReflectionRequest;
  using Response = grpc::reflection::v1alpha::ServerReflectionResponse;

  // The full names of the services the server serves, this one included;
  // each must be described by ServedDescriptors.
  explicit ReflectionService(std::vector<std::string> services);
  ReflectionService(const ReflectionService&) = delete;
  ReflectionService& operator=(const ReflectionService&) = delete;

  void StartServing(CallRequester* requester) override;

  // The response to one request.
  Response Answer(const Request& request) const;

 private:
  class InfoCall;

  void RequestNextInfo();

  const std::vector<std::string> services_;
  CallRequester* requester_ = nullptr;
};

}  // namespace tether

#endif  // TETHER_SERVER_REFLECTION_SERVICE_H_
