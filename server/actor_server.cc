#include "server/actor_server.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "runtime/base/log.h"
#include "runtime/process/local_roots.h"
#include "server/context_call.h"
#include "server/listen_check.h"
#include "tether/status_macros.h"

namespace tether {
namespace {

// How long an actor waits for each registry to confirm its registration.
constexpr absl::Duration kRegisterTimeout = absl::Seconds(5);

}  // namespace

absl::StatusOr<std::unique_ptr<ActorServer>> ActorServer::Start(
    ActorCore* runtime, const Address& listen,
    ActorService::CancelHandler on_cancel,
    std::unique_ptr<RegistryLink> registries) {
  TETHER_RETURN_IF_ERROR(CheckCanListen(listen));

  auto service = std::make_unique<ActorService>(runtime, std::move(on_cancel));
  std::unique_ptr<RegistrarService> registrar;
  if (runtime->registry_addresses().empty()) {
    registrar = std::make_unique<RegistrarService>();
  }
  std::unique_ptr<TtyLock> tty_lock;
  std::unique_ptr<DebugService> debug;
  // Only a root in debug mode shares a terminal with its tree.
  if (!runtime->parent().has_id() && runtime->debug_mode()) {
    tty_lock = std::make_unique<TtyLock>();
    debug = std::make_unique<DebugService>(tty_lock.get(), runtime->id());
  }
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which lets a second server share a
  // port silently; an actor's address must be its own.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Frames past kMaxFrameBytes must reach the context reactor, which
  // answers them with a protocol error; gRPC's own limit sits above it.
  builder.SetMaxReceiveMessageSize(4 * kMaxFrameBytes);
  int bound_port = 0;
  builder.AddListeningPort(listen.ToString(), grpc::InsecureServerCredentials(),
                           listen.is_tcp() ? &bound_port : nullptr);
  builder.RegisterService(service.get());
  auto health = std::make_unique<HealthService>();
  builder.RegisterService(health.get());
  std::unique_ptr<grpc::ServerCompletionQueue> new_calls =
      builder.AddCompletionQueue();
  if (registrar != nullptr) builder.RegisterService(registrar.get());
  if (debug != nullptr) builder.RegisterService(debug.get());
  std::vector<std::string> served_names = {
      v1::Actor::service_full_name(),
      grpc::health::v1::Health::service_full_name(),
      grpc::reflection::v1alpha::ServerReflection::service_full_name()};
  if (registrar != nullptr) {
    served_names.push_back(v1::Registrar::service_full_name());
  }
  if (debug != nullptr) served_names.push_back(v1::Debug::service_full_name());
  auto reflection = std::make_unique<ReflectionService>(served_names);
  builder.RegisterService(reflection.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (listen.is_tcp() && bound_port == 0)) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen.ToString(),
        ": the gRPC server failed to bind (run with --log_level=debug for "
        "gRPC's own report)"));
  }
  // A unix socket gets the umask's mode; only this user may connect.
  if (!listen.is_tcp() && chmod(listen.path().c_str(), 0600) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot make ", listen.path(),
                                               " private: ", strerror(errno)));
  }
  Address bound = listen.is_tcp() ? listen.WithPort(bound_port) : listen;
  runtime->SetAddresses({bound.ToString()});
  if (registrar != nullptr) runtime->SetRegistryAddresses({bound.ToString()});
  if (tty_lock != nullptr) TtyLock::SetHosted(tty_lock.get());
  std::unique_ptr<ActorServer> actor_server(
      new ActorServer(std::move(bound), std::move(service), std::move(health),
                      std::move(reflection), std::move(registrar),
                      std::move(tty_lock), std::move(debug)));
  actor_server->server_ = std::move(server);
  actor_server->registries_ = std::move(registries);
  actor_server->acceptor_ = std::make_unique<CallAcceptor>(
      actor_server->service_.get(), actor_server->Served(), runtime,
      std::move(new_calls), runtime->token());
  actor_server->acceptor_->Start();
  TETHER_RETURN_IF_ERROR(actor_server->Register(*runtime));
  if (actor_server->registrar_ != nullptr) {
    absl::StatusOr<std::unique_ptr<LocalRootRecord>> record =
        LocalRootRecord::Create(
            runtime->identity().name, runtime->identity().uuid,
            actor_server->address_.ToString(), runtime->token());
    if (record.ok()) {
      actor_server->local_root_ = *std::move(record);
    } else {
      TETHER_LOG(kWarning) << "local tools will not find this root: "
                           << record.status().message();
    }
  }
  return actor_server;
}

ActorServer::~ActorServer() { Shutdown(absl::ZeroDuration()); }

std::vector<ServedOnQueue*> ActorServer::Served() const {
  std::vector<ServedOnQueue*> served = {service_.get(), health_.get(),
                                        reflection_.get()};
  if (registrar_ != nullptr) served.push_back(registrar_.get());
  if (debug_ != nullptr) served.push_back(debug_.get());
  return served;
}

absl::Status ActorServer::Register(const ActorCore& runtime) {
  v1::RegistryEntry entry;
  *entry.mutable_actor() = runtime.ref();
  entry.set_pid(runtime.identity().pid);
  const v1::ActorRef parent = runtime.parent();
  if (parent.has_id()) *entry.mutable_parent() = parent.id();
  if (registries_ == nullptr) return absl::OkStatus();
  return registries_->Hold(runtime.registry_addresses(), entry, runtime.token(),
                           absl::Now() + kRegisterTimeout);
}

void ActorServer::Unregister() {
  if (registries_ != nullptr) registries_->Release();
}

void ActorServer::Shutdown(absl::Duration grace) {
  Unregister();
  local_root_.reset();
  if (registrar_ != nullptr) registrar_->Close();
  health_->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  acceptor_->Stop();
  if (tty_lock_ != nullptr && TtyLock::Hosted() == tty_lock_.get()) {
    TtyLock::SetHosted(nullptr);
  }
}

}  // namespace tether
