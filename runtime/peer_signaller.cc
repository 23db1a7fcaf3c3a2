#include "runtime/peer_signaller.h"

#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "runtime/log.h"

namespace tether {
namespace {

constexpr absl::Duration kSignalDeadline = absl::Seconds(2);

// One signal call; deletes itself when the call completes.
struct SignalCall {
  grpc::ClientContext context;
  v1::SignalRequest request;
  v1::SignalResponse response;
};

}  // namespace

PeerSignaller::~PeerSignaller() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* in_flight) { return *in_flight == 0; }, &in_flight_));
}

void PeerSignaller::Send(
    const google::protobuf::RepeatedPtrField<std::string>& addresses,
    const v1::SignalRequest& request) {
  if (addresses.empty()) return;
  auto* call = new SignalCall();
  call->request = request;
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + kSignalDeadline));
  v1::Actor::Stub* stub;
  {
    absl::MutexLock lock(&mu_);
    stub = StubFor(addresses[0]);
    ++in_flight_;
  }
  stub->async()->Signal(&call->context, &call->request, &call->response,
                        [this, call](grpc::Status status) {
                          if (!status.ok()) {
                            TETHER_LOG(kDebug)
                                << "signal for context "
                                << call->request.context_id()
                                << " failed: " << status.error_message();
                          }
                          delete call;
                          absl::MutexLock lock(&mu_);
                          --in_flight_;
                        });
}

v1::Actor::Stub* PeerSignaller::StubFor(const std::string& address) {
  std::unique_ptr<v1::Actor::Stub>& stub = stubs_[address];
  if (stub == nullptr) {
    stub = v1::Actor::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  return stub.get();
}

}  // namespace tether
