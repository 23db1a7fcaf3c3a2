#include "client/actor_client.h"

#include "grpcpp/client_context.h"
#include "rpc/status_conversion.h"
#include "rpc/tree_channel.h"

namespace tether {
namespace {

void SetTimeout(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace

ActorClient ActorClient::Dial(const Address& address, const TreeToken& token) {
  return ActorClient(v1::Actor::NewStub(DialTree(address.ToString(), token)));
}

absl::StatusOr<v1::ActorInfo> ActorClient::Info(absl::Duration timeout) const {
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  v1::ActorInfo info;
  const grpc::Status status = stub_->Info(&context, v1::InfoRequest(), &info);
  if (!status.ok()) return ToAbslStatus(status);
  return info;
}

absl::StatusOr<v1::ActorId> ActorClient::CancelActor(
    const v1::ActorId& requester, absl::Duration timeout) const {
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  v1::CancelActorRequest request;
  *request.mutable_requester() = requester;
  v1::CancelActorResponse response;
  const grpc::Status status = stub_->Cancel(&context, request, &response);
  if (!status.ok()) return ToAbslStatus(status);
  return response.actor();
}

}  // namespace tether
