#include "server/context_call.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rpc/status_conversion.h"
#include "runtime/base/log.h"
#include "runtime/base/runtime_errors.h"
#include "runtime/base/uuid.h"
#include "runtime/task/wait.h"
#include "server/peer_addresses.h"
#include "tether/errors.h"

namespace tether {
namespace {

constexpr size_t kMaxContextIdBytes = 256;
constexpr size_t kMaxSignalKeyBytes = 64;
constexpr size_t kMaxOpenerBytes = 4 << 10;
constexpr uint32_t kMaxBufferSize = 1 << 16;

ContextOptions OptionsFrom(const v1::ContextOptions& wire) {
  ContextOptions options;
  if (wire.buffer_size() > 0) {
    options.buffer_size = std::min(wire.buffer_size(), kMaxBufferSize);
  }
  options.callee_allow_overruns = wire.callee_allow_overruns();
  options.allow_overruns = wire.opener_allow_overruns();
  options.backpressure = wire.flow_control() == v1::FLOW_CONTROL_BACKPRESSURE;
  return options;
}

const char* KindName(v1::FunctionKind kind) {
  return kind == v1::FUNCTION_KIND_PLAIN ? "a plain function"
                                         : "a context function";
}

}  // namespace

ContextCall::ContextCall(ActorCore* runtime, PeerSignaller* signaller)
    : FramePump(std::make_shared<CallQueue>(), kMaxFrameBytes),
      runtime_(runtime),
      signaller_(signaller) {
  set_stream(&stream_);
}

ContextCall::~ContextCall() = default;

void ContextCall::Serve() {
  SetTaskPoller(queue_);
  {
    absl::MutexLock lock(&mu_);
    StartReadLocked();
    AwaitLockedShielded(
        mu_, waiters_,
        [this]()
            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return first_frame_done_; },
        absl::InfiniteFuture());
  }
  if (function_.has_value()) runtime_->RunServed(context_, *function_, args_);
  {
    absl::MutexLock lock(&mu_);
    AwaitLockedShielded(
        mu_, waiters_,
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return OverLocked(); },
        absl::InfiniteFuture());
  }
  if (context_ != nullptr) runtime_->RemoveContext(*context_);
  SetTaskPoller(nullptr);
}

void ContextCall::Reject(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    first_frame_done_ = true;
    if (ending_ == Ending::kNo && !done_) {
      ending_ = Ending::kFinishing;
      stream_.Finish(status, &finish_op_);
    }
  }
  // Nobody else polls this call's queue: no task was started for it.
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (OverLocked()) return;
    }
    queue_->PollOnce(absl::InfiniteFuture());
  }
}

bool ContextCall::OverLocked() const {
  return done_ && reading_ != Reading::kReading && !writing_ &&
         ending_ != Ending::kFinishing;
}

bool ContextCall::ReadsWantedLocked() const {
  return ending_ == Ending::kNo && !done_ && !refusal_.has_value();
}

ContextCore* ContextCall::OnFrameRead(absl::string_view bytes,
                                      absl::string_view problem) {
  bool first;
  {
    absl::MutexLock lock(&mu_);
    first = !first_frame_done_;
  }
  if (first) {
    Accept(bytes, problem);
    absl::MutexLock lock(&mu_);
    first_frame_done_ = true;
    return context_.get();
  }
  if (problem.empty()) {
    context_->OnFrame(bytes);
  } else {
    context_->OnBadFrame(problem);
  }
  return context_.get();
}

void ContextCall::OnReadClosed() {
  bool first;
  {
    absl::MutexLock lock(&mu_);
    first = !first_frame_done_;
  }
  if (!first) return context_->OnPeerHalfClose();
  Refuse(
      ProtocolError(runtime_->id(), "the stream ended before its Start frame"));
  absl::MutexLock lock(&mu_);
  first_frame_done_ = true;
  waiters_.NotifyAll();
}

void ContextCall::Accept(absl::string_view bytes, absl::string_view problem) {
  v1::Frame frame;
  std::string why(problem);
  if (why.empty() &&
      !frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    why =
        "a frame could not be parsed as tether.v1.Frame (malformed, or "
        "nested deeper than protobuf reads)";
  }
  if (!why.empty()) return Refuse(ProtocolError(runtime_->id(), why));
  if (!frame.has_start()) {
    return Refuse(ProtocolError(runtime_->id(),
                                "the first frame of a context must be Start"));
  }
  const v1::Start& start = frame.start();
  const v1::ActorId self = runtime_->id();
  absl::StatusOr<RegisteredFunction> function =
      runtime_->functions().Find(start.function());
  if (!function.ok()) {
    return Refuse(NoSuchFunctionError(self, start.function()));
  }
  if (!v1::FunctionKind_IsValid(start.kind())) {
    return Refuse(BadArgumentError(
        self, start.function(),
        absl::StrCat("unknown function kind ", start.kind(),
                     " (0 accepts either kind, 1 is context, 2 is plain)")));
  }
  if (start.kind() != v1::FUNCTION_KIND_UNSPECIFIED &&
      start.kind() != function->kind) {
    return Refuse(BadArgumentError(
        self, start.function(),
        absl::StrCat("'", start.function(), "' is ", KindName(function->kind),
                     ", not ", KindName(start.kind()))));
  }
  if (start.context_id().size() > kMaxContextIdBytes) {
    return Refuse(BadArgumentError(
        self, start.function(),
        absl::StrCat("a context_id of ", start.context_id().size(),
                     " bytes exceeds the limit of ", kMaxContextIdBytes)));
  }
  if (start.signal_key().size() > kMaxSignalKeyBytes) {
    return Refuse(BadArgumentError(
        self, start.function(),
        absl::StrCat("a signal_key of ", start.signal_key().size(),
                     " bytes exceeds the limit of ", kMaxSignalKeyBytes)));
  }
  if (start.opener().ByteSizeLong() > kMaxOpenerBytes) {
    return Refuse(BadArgumentError(
        self, start.function(),
        absl::StrCat("an opener ActorRef of ", start.opener().ByteSizeLong(),
                     " bytes exceeds the limit of ", kMaxOpenerBytes)));
  }
  absl::StatusOr<Value> args =
      start.has_args() ? Value::FromProto(start.args()) : Value();
  if (args.ok() && function->check) {
    absl::Status checked = function->check(*args);
    if (!checked.ok()) args = checked;
  }
  if (!args.ok()) {
    return Refuse(
        BadArgumentError(self, start.function(), args.status().message()));
  }
  signal_route_ = AddressesOnPeerHost(server_context_.peer(), start.opener());
  const std::string id =
      start.context_id().empty() ? NewUuid() : start.context_id();
  auto context = std::make_shared<ContextCore>(
      Context::Side::kCallee, runtime_->ref(), start.opener(), start.function(),
      id, function->kind, OptionsFrom(start.options()));
  context->SetPeerMaxFrameBytes(start.max_frame_bytes());
  context->SetPeerSignalKey(start.signal_key());
  context->Attach(shared_from_this());
  context->SetPoller(queue_);
  runtime_->AddContext(context);
  bool call_over;
  {
    absl::MutexLock lock(&mu_);
    context_ = context;
    call_over = done_;
  }
  function_ = *std::move(function);
  args_ = *std::move(args);
  v1::Frame ack;
  *ack.mutable_start_ack()->mutable_callee() = runtime_->ref();
  ack.mutable_start_ack()->set_kind(function_->kind);
  ack.mutable_start_ack()->set_context_id(id);
  ack.mutable_start_ack()->set_max_frame_bytes(kMaxFrameBytes);
  ack.mutable_start_ack()->set_signal_key(context->signal_key());
  context->SendControl(std::move(ack));
  // The call ended (the opener cancelled it right behind its Start) before
  // the context existed: OnDone could not tell it, so this does, or nobody
  // would cancel the task.
  if (call_over) context->OnTransportDone(EndOfCall());
}

void ContextCall::Refuse(const absl::Status& error) {
  TETHER_LOG(kInfo) << "refused a context: " << error.message();
  v1::Frame frame;
  *frame.mutable_error()->mutable_error() = BoxStatus(error, runtime_->id());
  absl::MutexLock write_lock(&write_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (refusal_.has_value() || ending_ != Ending::kNo || done_) return;
    refusal_ = error;
    if (reading_ != Reading::kReading) reading_ = Reading::kClosed;
    writing_ = true;
  }
  StageWrite(frame.SerializeAsString());
  WriteStaged();
}

void ContextCall::StartWrite(absl::string_view frame, bool last) {
  bool ok;
  {
    absl::MutexLock write_lock(&write_mu_);
    {
      // writing_ keeps the drain in Serve() waiting for the completion.
      absl::MutexLock lock(&mu_);
      ok = ending_ == Ending::kNo && !done_;
      writing_ = writing_ || (ok && !last);
    }
    if (ok) {
      StageWrite(frame);
      if (last) {
        holding_last_ = true;
      } else {
        WriteStaged();
      }
    }
  }
  if (!ok || last) context_->OnWriteDone(ok);
}

void ContextCall::OnWriteCompleted(bool ok) {
  std::optional<absl::Status> refusal;
  {
    absl::MutexLock lock(&mu_);
    refusal = refusal_;
  }
  if (!refusal.has_value()) return context_->OnWriteDone(ok);
  Finish(*refusal);
}

void ContextCall::Finish(const absl::Status& status) {
  absl::MutexLock write_lock(&write_mu_);
  absl::MutexLock lock(&mu_);
  if (ending_ != Ending::kNo || done_) return;
  ending_ = Ending::kFinishing;
  if (std::exchange(holding_last_, false)) {
    stream_.WriteAndFinish(out_, grpc::WriteOptions(), ToGrpcStatus(status),
                           &finish_op_);
  } else {
    stream_.Finish(ToGrpcStatus(status), &finish_op_);
  }
}

void ContextCall::OnFinished(bool ok) {
  absl::MutexLock lock(&mu_);
  ending_ = Ending::kFinished;
  waiters_.NotifyAll();
}

void ContextCall::OnDone(bool ok) {
  std::shared_ptr<ContextCore> context;
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
    context = context_;
    waiters_.NotifyAll();
  }
  if (context != nullptr) context->OnTransportDone(EndOfCall());
}

absl::Status ContextCall::EndOfCall() {
  return server_context_.IsCancelled()
             ? absl::CancelledError("the opener cancelled")
             : absl::CancelledError("the stream ended");
}

void ContextCall::Signal(const v1::SignalRequest& request) {
  // The first address of the opener on the host that called.
  if (!signal_route_.empty()) signaller_->Send(signal_route_.front(), request);
}

}  // namespace tether
