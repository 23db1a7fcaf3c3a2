#include "server/context_call.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/slice.h"
#include "rpc/status_conversion.h"
#include "runtime/base/log.h"
#include "runtime/base/runtime_errors.h"
#include "runtime/base/uuid.h"
#include "runtime/task/wait.h"
#include "tether/errors.h"

namespace tether {
namespace {

constexpr size_t kMaxContextIdBytes = 256;
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
    : runtime_(runtime),
      signaller_(signaller),
      queue_(std::make_shared<CallQueue>()) {
  waiters_.SetPoller(queue_);
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

bool ContextCall::OverLocked() const {
  return done_ && !reading_ && !writing_ && (!finishing_ || finished_);
}

void ContextCall::StartReadLocked() {
  reading_ = true;
  stream_.Read(&in_, &read_op_);
}

void ContextCall::OnReadDone(bool ok) {
  bool first;
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    first = !first_frame_done_;
    if (!ok) read_closed_ = true;
    waiters_.NotifyAll();
  }
  if (!ok) {
    if (first) {
      Refuse(ProtocolError(runtime_->id(),
                           "the stream ended before its Start frame"));
      absl::MutexLock lock(&mu_);
      first_frame_done_ = true;
      waiters_.NotifyAll();
    } else {
      context_->OnPeerHalfClose();
    }
    return;
  }
  std::string problem;
  grpc::Slice slice;
  if (in_.Length() > kMaxFrameBytes) {
    problem = absl::StrCat("a frame of ", in_.Length(),
                           " bytes exceeds the limit of ", kMaxFrameBytes);
  } else if (!in_.DumpToSingleSlice(&slice).ok()) {
    problem = "a frame could not be read";
  }
  in_.Clear();
  const absl::string_view bytes(reinterpret_cast<const char*>(slice.begin()),
                                slice.size());
  if (first) {
    Accept(bytes, problem);
    absl::MutexLock lock(&mu_);
    first_frame_done_ = true;
    waiters_.NotifyAll();
    if (context_ == nullptr) return;
  } else if (problem.empty()) {
    context_->OnFrame(bytes);
  } else {
    context_->OnBadFrame(problem);
  }
  {
    absl::MutexLock lock(&mu_);
    if (read_closed_ || finishing_) return;
    reading_paused_ = true;
  }
  if (context_->ShouldRead()) ResumeReading();
}

void ContextCall::Accept(absl::string_view bytes, const std::string& problem) {
  v1::Frame frame;
  std::string why = problem;
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
  opener_ = start.opener();
  const std::string id =
      start.context_id().empty() ? NewUuid() : start.context_id();
  auto context = std::make_shared<ContextCore>(
      Context::Side::kCallee, runtime_->ref(), start.opener(), start.function(),
      id, function->kind, OptionsFrom(start.options()));
  context->SetPeerMaxFrameBytes(start.max_frame_bytes());
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
  absl::MutexLock lock(&mu_);
  if (refusing_ || finishing_ || done_) return;
  refusing_ = true;
  refusal_ = error;
  read_closed_ = true;
  bool own_buffer = false;
  out_.Clear();
  if (grpc::SerializationTraits<v1::Frame>::Serialize(frame, &out_, &own_buffer)
          .ok()) {
    writing_ = true;
    stream_.Write(out_, &write_op_);
  } else {
    finishing_ = true;
    stream_.Finish(ToGrpcStatus(error), &finish_op_);
  }
}

void ContextCall::ResumeReading() {
  absl::MutexLock lock(&mu_);
  if (!reading_paused_ || read_closed_ || finishing_ || done_ || reading_) {
    return;
  }
  reading_paused_ = false;
  StartReadLocked();
}

void ContextCall::StartWrite(absl::string_view frame, bool last) {
  grpc::Slice slice(frame.data(), frame.size());
  grpc::ByteBuffer buffer(&slice, 1);
  bool ok;
  {
    absl::MutexLock write_lock(&write_mu_);
    {
      // writing_ keeps the drain in Serve() waiting for the completion.
      absl::MutexLock lock(&mu_);
      ok = !finishing_ && !done_;
      writing_ = writing_ || (ok && !last);
    }
    if (ok) {
      out_.Swap(&buffer);
      if (last) {
        holding_last_ = true;
      } else {
        // Without mu_: gRPC may write all the way to the socket here, and
        // a read's handling must not wait for that.
        stream_.Write(out_, &write_op_);
      }
    }
  }
  if (!ok || last) context_->OnWriteDone(ok);
}

void ContextCall::OnWriteDone(bool ok) {
  bool refusing;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    refusing = refusing_;
    waiters_.NotifyAll();
  }
  if (!refusing) return context_->OnWriteDone(ok);
  absl::Status refusal;
  {
    absl::MutexLock lock(&mu_);
    refusal = refusal_;
  }
  Finish(refusal);
}

void ContextCall::Finish(const absl::Status& status) {
  absl::MutexLock write_lock(&write_mu_);
  absl::MutexLock lock(&mu_);
  if (finishing_ || done_) return;
  finishing_ = true;
  if (std::exchange(holding_last_, false)) {
    stream_.WriteAndFinish(out_, grpc::WriteOptions(), ToGrpcStatus(status),
                           &finish_op_);
  } else {
    stream_.Finish(ToGrpcStatus(status), &finish_op_);
  }
}

void ContextCall::OnFinished(bool ok) {
  absl::MutexLock lock(&mu_);
  finished_ = true;
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
  signaller_->Send(opener_.addresses(), request);
}

}  // namespace tether
