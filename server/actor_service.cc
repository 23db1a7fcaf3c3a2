#include "server/actor_service.h"

#include <utility>

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "runtime/log.h"

namespace tether {

using google::protobuf::util::TimeUtil;

ActorService::ActorService(ActorIdentity identity, CancelHandler on_cancel)
    : identity_(std::move(identity)), on_cancel_(std::move(on_cancel)) {}

void ActorService::SetAddresses(std::vector<std::string> addresses) {
  absl::MutexLock lock(&mu_);
  addresses_ = std::move(addresses);
}

grpc::ServerUnaryReactor* ActorService::Info(
    grpc::CallbackServerContext* context, const v1::InfoRequest* request,
    v1::ActorInfo* response) {
  *response->mutable_id() = identity_.ToProto();
  response->set_pid(identity_.pid);
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& address : addresses_) {
      response->add_addresses(address);
    }
  }
  *response->mutable_started_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(identity_.started_at));
  *response->mutable_uptime() = TimeUtil::NanosecondsToDuration(
      absl::ToInt64Nanoseconds(absl::Now() - identity_.started_at));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ActorService::Cancel(
    grpc::CallbackServerContext* context, const v1::CancelActorRequest* request,
    v1::CancelActorResponse* response) {
  TETHER_LOG(kInfo) << "cancel requested by " << request->requester().name()
                    << "[" << request->requester().uuid() << "]"
                    << (request->reason().empty() ? "" : ": ")
                    << request->reason();
  *response->mutable_actor() = identity_.ToProto();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  on_cancel_(request->requester());
  return reactor;
}

}  // namespace tether
