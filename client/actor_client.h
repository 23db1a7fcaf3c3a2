// File: client/actor_client.h
//
// A client for one actor's unary control RPCs (tether.v1.Actor Info and
// Cancel), with deadlines and absl::Status errors.
//
//   const ActorClient client = ActorClient::Dial(address, runtime.token());
//   absl::StatusOr<v1::ActorInfo> info = client->Info(absl::Seconds(2));
//   if (info.ok()) std::cout << info->id().name();
//
// Thread-safe: calls may run concurrently on one client.

#ifndef TETHER_CLIENT_ACTOR_CLIENT_H_
#define TETHER_CLIENT_ACTOR_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/base/tree_token.h"
#include "tether/address.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {

class ActorClient {
 public:
  // Creates a channel to `address` whose calls carry `token`, the tree's;
  // connects lazily on the first call.
  static ActorClient Dial(const Address& address, const TreeToken& token);

  // The actor's identity and state. Errors: UNAVAILABLE when nothing answers
  // at the address, DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<v1::ActorInfo> Info(absl::Duration timeout) const;

  // Asks the actor to cancel every task, naming `requester` as the
  // canceller, and exit. Returns the actor that accepted the request.
  absl::StatusOr<v1::ActorId> CancelActor(const v1::ActorId& requester,
                                          absl::Duration timeout) const;

 private:
  explicit ActorClient(std::shared_ptr<v1::Actor::Stub> stub)
      : stub_(std::move(stub)) {}

  std::shared_ptr<v1::Actor::Stub> stub_;
};

}  // namespace tether

#endif  // TETHER_CLIENT_ACTOR_CLIENT_H_
