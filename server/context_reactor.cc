#include "server/context_reactor.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/status_conversion.h"
#include "runtime/uuid.h"
#include "runtime/value.h"

namespace tether {
namespace {

absl::Status OpenerCancelled() {
  return absl::CancelledError("the opener cancelled");
}

// An opener's context id and ActorRef are kept while the context lives and
// shown by Info, so each stays small: a peer must not make every Info
// answer carry megabytes. A UUID is 36 bytes.
constexpr size_t kMaxContextIdBytes = 256;
constexpr size_t kMaxOpenerBytes = 4 << 10;

// The largest receive buffer an opener may ask of this actor: buffers hold
// payloads in memory, so a peer must not size them at will.
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

// REQUIRES: `kind` is PLAIN or CONTEXT.
const char* KindName(v1::FunctionKind kind) {
  return kind == v1::FUNCTION_KIND_PLAIN ? "a plain function"
                                         : "a context function";
}

}  // namespace

ContextReactor* ContextReactor::Create(ActorRuntime* runtime,
                                       PeerSignaller* signaller) {
  std::shared_ptr<ContextReactor> reactor(
      new ContextReactor(runtime, signaller));
  reactor->self_ = reactor;
  reactor->StartRead(&reactor->in_);
  return reactor.get();
}

ContextReactor::ContextReactor(ActorRuntime* runtime, PeerSignaller* signaller)
    : runtime_(runtime), signaller_(signaller) {}

void ContextReactor::OnReadDone(bool ok) {
  const std::shared_ptr<Context> ctx = context();
  if (!ok) {
    // The opener half-closed (or the call is ending; OnCancel/OnDone say
    // which). A half-close counts as Stop.
    {
      absl::MutexLock lock(&mu_);
      read_closed_ = true;
    }
    if (ctx != nullptr) {
      ctx->OnPeerHalfClose();
    } else {
      Refuse(ProtocolError(runtime_->id(),
                           "the stream ended before its Start frame"));
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
  if (ctx != nullptr) {
    if (problem.empty()) {
      ctx->OnFrame(bytes);
    } else {
      ctx->OnBadFrame(problem);
    }
    return MaybeRead();
  }
  v1::Frame frame;
  if (problem.empty() &&
      !frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    problem =
        "a frame could not be parsed as tether.v1.Frame (malformed, or "
        "nested deeper than protobuf reads)";
  }
  if (!problem.empty()) return Refuse(ProtocolError(runtime_->id(), problem));
  if (!frame.has_start()) {
    return Refuse(ProtocolError(runtime_->id(),
                                "the first frame of a context must be Start"));
  }
  OnStart(frame);
  MaybeRead();
}

void ContextReactor::OnStart(const v1::Frame& frame) {
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
  // Absent arguments mean JSON null, so minimal clients can omit them.
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
  auto context = std::make_shared<Context>(
      Context::Side::kCallee, runtime_->ref(), start.opener(), start.function(),
      id, function->kind, OptionsFrom(start.options()));
  context->SetPeerMaxFrameBytes(start.max_frame_bytes());
  context->Attach(self_);
  runtime_->AddContext(context);
  bool cancelled;
  {
    absl::MutexLock lock(&mu_);
    context_ = context;
    cancelled = cancelled_;
  }

  v1::Frame ack;
  *ack.mutable_start_ack()->mutable_callee() = runtime_->ref();
  ack.mutable_start_ack()->set_kind(function->kind);
  ack.mutable_start_ack()->set_context_id(id);
  ack.mutable_start_ack()->set_max_frame_bytes(kMaxFrameBytes);
  context->SendControl(std::move(ack));
  runtime_->Serve(context, *std::move(function), *std::move(args));
  // OnCancel came before the context existed: it is this reactor's to
  // apply, or nobody would cancel the task.
  if (cancelled) context->OnTransportDone(OpenerCancelled());
}

void ContextReactor::Refuse(const absl::Status& error) {
  TETHER_LOG(kInfo) << "refused a context: " << error.message();
  v1::Frame frame;
  *frame.mutable_error()->mutable_error() = BoxStatus(error, runtime_->id());
  absl::MutexLock write_lock(&write_mu_);
  absl::MutexLock lock(&mu_);
  if (refusing_ || finished_) return;
  refusing_ = true;
  refusal_ = error;
  read_closed_ = true;  // No further reads: the stream is ending.
  bool own_buffer = false;
  out_.Clear();
  if (grpc::SerializationTraits<v1::Frame>::Serialize(frame, &out_, &own_buffer)
          .ok()) {
    grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>::StartWrite(
        &out_);
  } else {
    finished_ = true;
    grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>::Finish(
        ToGrpcStatus(error));
  }
}

void ContextReactor::MaybeRead() {
  // Pause first, then ask: a ResumeReading() racing with the question
  // either finds the pause and starts the read itself, or comes before it
  // and makes the answer yes. Either way exactly one read is started.
  {
    absl::MutexLock lock(&mu_);
    if (read_closed_ || finished_) return;
    reading_paused_ = true;
  }
  const std::shared_ptr<Context> ctx = context();
  if (ctx != nullptr && !ctx->ShouldRead()) return;
  ResumeReading();
}

void ContextReactor::ResumeReading() {
  absl::MutexLock lock(&mu_);
  if (!reading_paused_ || read_closed_ || finished_) return;
  reading_paused_ = false;
  StartRead(&in_);
}

void ContextReactor::StartWrite(absl::string_view frame, bool last) {
  grpc::Slice slice(frame.data(), frame.size());
  grpc::ByteBuffer buffer(&slice, 1);
  bool ok;
  {
    absl::MutexLock lock(&write_mu_);
    ok = !finished_;
    if (ok) {
      out_.Swap(&buffer);  // The previous write is done with out_.
      if (last) {
        holding_last_ = true;
      } else {
        grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>::StartWrite(
            &out_);
      }
    }
  }
  // A write that cannot start completes at once as failed, so the outbox
  // does not wait for it; a held last frame counts as written, so that the
  // context goes on to Finish.
  if (!ok || last) context()->OnWriteDone(ok);
}

void ContextReactor::OnWriteDone(bool ok) {
  // Not write_mu_: the task that started this write may still hold it.
  bool refusing;
  std::shared_ptr<Context> ctx;
  {
    absl::MutexLock lock(&mu_);
    refusing = refusing_;
    ctx = context_;
  }
  if (!refusing) return ctx->OnWriteDone(ok);
  absl::Status refusal;
  {
    absl::MutexLock lock(&write_mu_);
    refusal = refusal_;
  }
  Finish(refusal);
}

void ContextReactor::Finish(const absl::Status& status) {
  absl::MutexLock write_lock(&write_mu_);
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  finished_ = true;
  if (std::exchange(holding_last_, false)) {
    grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>::
        StartWriteAndFinish(&out_, grpc::WriteOptions(), ToGrpcStatus(status));
  } else {
    grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>::Finish(
        ToGrpcStatus(status));
  }
}

void ContextReactor::Signal(const v1::SignalRequest& request) {
  signaller_->Send(opener_.addresses(), request);
}

void ContextReactor::OnCancel() {
  std::shared_ptr<Context> context;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    context = context_;
  }
  if (context != nullptr) context->OnTransportDone(OpenerCancelled());
}

void ContextReactor::OnDone() {
  if (std::shared_ptr<Context> context = this->context()) {
    context->OnTransportDone(absl::CancelledError("the stream ended"));
    runtime_->RemoveContext(*context);
  }
  // May destroy this reactor: the last thing it does.
  std::shared_ptr<ContextReactor> release = std::move(self_);
}

std::shared_ptr<Context> ContextReactor::context() {
  absl::MutexLock lock(&mu_);
  return context_;
}

}  // namespace tether
