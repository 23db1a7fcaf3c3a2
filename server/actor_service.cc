#include "server/actor_service.h"

#include <utility>

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "runtime/base/log.h"

namespace tether {

using google::protobuf::util::TimeUtil;

ActorService::ActorService(ActorCore* runtime, CancelHandler on_cancel)
    : runtime_(runtime),
      on_cancel_(std::move(on_cancel)),
      signaller_(runtime->token()) {}

grpc::Status ActorService::HandleCancel(const v1::CancelActorRequest& request,
                                        v1::CancelActorResponse* response) {
  const v1::ActorId& requester = request.requester();
  TETHER_LOG(kInfo) << "cancel requested by " << requester.name() << "["
                    << requester.uuid() << "]"
                    << (request.reason().empty() ? "" : ": ")
                    << request.reason();
  runtime_->CancelServing(requester);
  *response->mutable_actor() = runtime_->id();
  return grpc::Status::OK;
}

void ActorService::StartServing(CallRequester* requester) {
  cancel_.Start(requester);
  info_.Start(requester);
  signal_.Start(requester);
}

grpc::Status ActorService::HandleInfo(const v1::InfoRequest& request,
                                      v1::ActorInfo* response) {
  const ActorIdentity& identity = runtime_->identity();
  const v1::ActorRef ref = runtime_->ref();
  *response->mutable_id() = ref.id();
  response->set_pid(identity.pid);
  *response->mutable_addresses() = ref.addresses();
  const v1::ActorRef parent = runtime_->parent();
  if (parent.has_id()) *response->mutable_parent() = parent;
  *response->mutable_started_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(identity.started_at));
  *response->mutable_uptime() = TimeUtil::NanosecondsToDuration(
      absl::ToInt64Nanoseconds(absl::Now() - identity.started_at));
  for (v1::ContextInfo& info : runtime_->DescribeContexts()) {
    *response->add_contexts() = std::move(info);
  }
  for (v1::ChildInfo& child : runtime_->DescribeChildren()) {
    *response->add_children() = std::move(child);
  }
  for (const std::string& name : runtime_->functions().Names()) {
    response->add_functions(name);
  }
  response->set_debug_mode(runtime_->debug_mode());
  for (const std::string& registry : runtime_->registry_addresses()) {
    response->add_registry_addresses(registry);
  }
  response->set_contexts_opened(runtime_->contexts_opened());
  response->set_contexts_served(runtime_->contexts_served());
  response->set_frames_sent(runtime_->frames_sent());
  response->set_frames_received(runtime_->frames_received());
  return grpc::Status::OK;
}

grpc::Status ActorService::HandleSignal(const v1::SignalRequest& request,
                                        v1::SignalResponse* response) {
  // A signal may concern a context this actor serves or one it opened;
  // of the contexts with its id, only the one whose key it carries takes
  // it.
  bool applied = false;
  for (const Context::Side side :
       {Context::Side::kCallee, Context::Side::kOpener}) {
    for (const std::shared_ptr<ContextCore>& target :
         runtime_->FindContexts(request.context_id(), side)) {
      applied = target->OnSignal(request) || applied;
    }
  }
  response->set_applied(applied);
  return grpc::Status::OK;
}

}  // namespace tether
