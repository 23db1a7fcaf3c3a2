#include "tether/portal.h"

#include <exception>
#include <utility>

#include "client/opener_stream.h"
#include "grpcpp/channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/channel_arguments.h"
#include "rpc/call_queue.h"
#include "rpc/peer_signaller.h"
#include "rpc/status_conversion.h"
#include "rpc/tree_channel.h"
#include "runtime/actor/actor_core.h"
#include "runtime/base/runtime_errors.h"
#include "runtime/base/uuid.h"
#include "runtime/task/wait.h"
#include "tether/errors.h"
#include "tether/status_macros.h"
#include "tether/v1/actor.grpc.pb.h"

namespace tether {
namespace {

// How long a finished context waits for the callee to end the stream
// before cancelling it.
constexpr absl::Duration kStreamGrace = absl::Seconds(1);

// Matches the callee's gRPC receive limit (server/actor_server.cc), so an
// oversized frame is refused by the protocol, not by gRPC; announced to the
// callee in Start.
constexpr int kMaxMessageBytes = 16 << 20;

v1::FlowControl FlowControlOf(const ContextOptions& options) {
  return options.backpressure ? v1::FLOW_CONTROL_BACKPRESSURE
                              : v1::FLOW_CONTROL_OVERRUN;
}

}  // namespace

// What a Portal talks to its peer with.
struct PortalChannel {
  PortalChannel(const Address& peer, const TreeToken& token)
      : signaller(token) {
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
    channel = DialTree(peer.ToString(), token, arguments);
    stub = v1::Actor::NewStub(channel);
    context_stub = std::make_unique<grpc::GenericStub>(channel);
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Actor::Stub> stub;
  // Contexts: their frames cross the stream as bytes
  // (client/opener_stream.h).
  std::unique_ptr<grpc::GenericStub> context_stub;
  PeerSignaller signaller;
};

namespace {

absl::Status RunBlock(const Portal::Block& block, Context& context,
                      const Value& started, const v1::ActorId& self) {
  try {
    return block(context, started);
  } catch (const std::exception& e) {
    return MakeError(BoxException(e, self));
  } catch (...) {
    return MakeError(BoxUnknownException(self));
  }
}

// Creates the context and its stream, sends Start, runs `body` with the
// context, then finishes the stream and forgets the context.
template <typename Body>
auto WithStream(ActorCore& self, PortalChannel& channel, const Address& peer,
                absl::string_view function, v1::FunctionKind kind, Value args,
                const ContextOptions& options, Body body) {
  v1::ActorRef callee;
  callee.add_addresses(peer.ToString());
  auto context = std::make_shared<ContextCore>(
      Context::Side::kOpener, self.ref(), std::move(callee),
      std::string(function), NewUuid(), kind, options);
  // The call's completions go to the calling task's queue, which its waits
  // poll; a task that has none gets one for as long as it has contexts.
  std::shared_ptr<CallQueue> queue =
      std::dynamic_pointer_cast<CallQueue>(CurrentTaskPoller());
  const bool own_queue = queue == nullptr;
  if (own_queue) {
    queue = std::make_shared<CallQueue>();
    SetTaskPoller(queue);
  }
  std::shared_ptr<OpenerStream> stream =
      OpenerStream::Create(context, channel.context_stub.get(), peer.ToString(),
                           &channel.signaller, queue);
  self.AddContext(context);

  v1::Frame frame;
  v1::Start* start = frame.mutable_start();
  start->set_function(std::string(function));
  start->set_kind(kind);
  *start->mutable_args() = args.ToProto();
  *start->mutable_opener() = self.ref();
  start->set_context_id(context->id());
  start->set_signal_key(context->signal_key());
  start->set_max_frame_bytes(kMaxMessageBytes);
  start->mutable_options()->set_flow_control(FlowControlOf(options));
  start->mutable_options()->set_buffer_size(options.buffer_size);
  start->mutable_options()->set_callee_allow_overruns(
      options.callee_allow_overruns);
  start->mutable_options()->set_opener_allow_overruns(options.allow_overruns);
  context->SendControl(std::move(frame));
  stream->Start();

  auto result = body(*context);
  // Once the callee's final frame arrived it is ending the call: let it.
  // Without that frame there is nothing to wait for: either no outcome (a
  // cancel nobody confirmed), or one that came out of band while the
  // in-band copy waits behind data the block left unread and that would
  // only be discarded.
  stream->FinishAndWait(context->final_frame_arrived() ? kStreamGrace
                                                       : absl::ZeroDuration());
  self.RemoveContext(*context);
  if (own_queue) SetTaskPoller(nullptr);
  return result;
}

}  // namespace

Portal::Portal(ActorRuntime* self, const Address& peer)
    : self_(self),
      peer_(peer),
      channel_(std::make_unique<PortalChannel>(peer,
                                               ActorCore::Of(*self).token())) {}

Portal::~Portal() = default;

absl::StatusOr<Value> Portal::Run(absl::string_view function, Value args) {
  TETHER_RETURN_IF_ERROR(args.CheckNesting());
  return WithStream(
      ActorCore::Of(*self_), *channel_, peer_, function,
      v1::FUNCTION_KIND_PLAIN, std::move(args), ContextOptions(),
      [](ContextCore& context) -> absl::StatusOr<Value> {
        absl::StatusOr<Value> result = context.Result();
        if (!result.ok() && !context.outcome().has_value()) {
          // Cancelled while waiting: cancel the call too.
          result = context.ExitBlock(result.status());
        }
        const std::optional<absl::StatusOr<Value>> outcome = context.outcome();
        if (!result.ok() && outcome.has_value() && !outcome->ok() &&
            !IsContextCancelled(outcome->status())) {
          return outcome->status();
        }
        return result;
      });
}

absl::Status Portal::OpenContext(absl::string_view function, Value args,
                                 const Block& block,
                                 const ContextOptions& options) {
  TETHER_RETURN_IF_ERROR(args.CheckNesting());
  const v1::ActorId self = self_->id();
  return WithStream(ActorCore::Of(*self_), *channel_, peer_, function,
                    v1::FUNCTION_KIND_CONTEXT, std::move(args), options,
                    [&](ContextCore& context) -> absl::Status {
                      absl::StatusOr<Value> started = context.WaitStarted();
                      if (!started.ok())
                        return context.ExitBlock(started.status());
                      absl::Status block_status;
                      {
                        CancelScope scope;
                        context.BindScope(scope.handle());
                        block_status = RunBlock(block, context, *started, self);
                      }
                      return context.ExitBlock(std::move(block_status));
                    });
}

absl::StatusOr<v1::ActorId> Portal::CancelActor(absl::Duration timeout) {
  grpc::ClientContext call;
  call.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::CancelActorRequest request;
  *request.mutable_requester() = self_->id();
  v1::CancelActorResponse response;
  const grpc::Status status = channel_->stub->Cancel(&call, request, &response);
  if (!status.ok()) return ToAbslStatus(status);
  return response.actor();
}

}  // namespace tether
