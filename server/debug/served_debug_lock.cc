#include "server/debug/served_debug_lock.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "runtime/base/uuid.h"

namespace tether {

ServedDebugLock::ServedDebugLock() {
  root_.set_name("root");
  root_.set_uuid(NewUuid());
  service_ = std::make_unique<DebugService>(&lock_, root_);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service_.get());
  std::unique_ptr<grpc::ServerCompletionQueue> queue =
      builder.AddCompletionQueue();
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    status_ = absl::UnavailableError("the Debug service could not listen");
    return;
  }
  acceptor_ = std::make_unique<CallAcceptor>(
      nullptr, std::vector<ServedOnQueue*>{service_.get()}, nullptr,
      std::move(queue), token_);
  acceptor_->Start();
  address_ = std::make_unique<Address>(
      *Address::Parse(absl::StrCat("127.0.0.1:", port)));
}

ServedDebugLock::~ServedDebugLock() {
  if (server_ == nullptr) return;
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  server_->Wait();
  if (acceptor_ != nullptr) acceptor_->Stop();
}

}  // namespace tether
