#include "rpc/peer_signaller.h"

#include <utility>

#include "grpcpp/client_context.h"
#include "grpcpp/support/async_unary_call.h"
#include "rpc/tree_channel.h"
#include "runtime/base/log.h"

namespace tether {
namespace {

constexpr absl::Duration kSignalDeadline = absl::Seconds(2);

// One signal call; its completion's tag.
struct SignalCall {
  grpc::ClientContext context;
  v1::SignalRequest request;
  v1::SignalResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SignalResponse>> reader;
};

}  // namespace

PeerSignaller::~PeerSignaller() {
  std::thread drainer;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* in_flight) { return *in_flight == 0; }, &in_flight_));
    drainer = std::move(drainer_);
  }
  if (drainer.joinable()) drainer.join();
  queue_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue_.Next(&tag, &ok)) {
  }
}

void PeerSignaller::Send(const std::string& address,
                         const v1::SignalRequest& request) {
  auto* call = new SignalCall();
  call->request = request;
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + kSignalDeadline));
  std::thread finished;
  {
    absl::MutexLock lock(&mu_);
    call->reader =
        StubFor(address)->AsyncSignal(&call->context, call->request, &queue_);
    call->reader->Finish(&call->response, &call->status, call);
    ++in_flight_;
    if (!draining_) {
      draining_ = true;
      finished = std::move(drainer_);
      drainer_ = std::thread([this] { Drain(); });
    }
  }
  // A previous drainer has left Drain() or is about to.
  if (finished.joinable()) finished.join();
}

void PeerSignaller::Drain() {
  void* tag = nullptr;
  bool ok = false;
  while (queue_.Next(&tag, &ok)) {
    auto* call = static_cast<SignalCall*>(tag);
    if (!call->status.ok()) {
      TETHER_LOG(kDebug) << "signal for context " << call->request.context_id()
                         << " failed: " << call->status.error_message();
    }
    delete call;
    absl::MutexLock lock(&mu_);
    if (--in_flight_ == 0) {
      draining_ = false;
      return;
    }
  }
}

v1::Actor::Stub* PeerSignaller::StubFor(const std::string& address) {
  std::unique_ptr<v1::Actor::Stub>& stub = stubs_[address];
  if (stub == nullptr) {
    stub = v1::Actor::NewStub(DialTree(address, token_));
  }
  return stub.get();
}

}  // namespace tether
