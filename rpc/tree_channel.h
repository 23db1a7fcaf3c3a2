// File: rpc/tree_channel.h
//
// Channels to the actors of one tree. Every call on such a channel carries
// the tree's token as `authorization: Bearer <token>` metadata, which the
// tree's servers require before anything of a call runs
// (server/served_on_queue.h, CallRequester::Admit). Every Tether client
// dials through here, so no call can go out without it.
//
//   std::shared_ptr<grpc::Channel> channel =
//       DialTree(address.ToString(), runtime.token());
//   std::unique_ptr<v1::Actor::Stub> stub = v1::Actor::NewStub(channel);
//
// Thread-safe.

#ifndef TETHER_RPC_TREE_CHANNEL_H_
#define TETHER_RPC_TREE_CHANNEL_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"
#include "grpcpp/support/channel_arguments.h"
#include "runtime/base/tree_token.h"

namespace tether {

// A channel to `target` (gRPC's target syntax, Address::ToString()) whose
// calls carry `token`.
std::shared_ptr<grpc::Channel> DialTree(
    const std::string& target, const TreeToken& token,
    const grpc::ChannelArguments& arguments = grpc::ChannelArguments());

}  // namespace tether

#endif  // TETHER_RPC_TREE_CHANNEL_H_
