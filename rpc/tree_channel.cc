#include "rpc/tree_channel.h"

#include <utility>
#include <vector>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"

namespace tether {
namespace {

using grpc::experimental::ClientInterceptorFactoryInterface;
using grpc::experimental::ClientRpcInfo;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::Interceptor;
using grpc::experimental::InterceptorBatchMethods;

// Adds the authorization metadata to a call's initial metadata.
class TokenInterceptor final : public Interceptor {
 public:
  explicit TokenInterceptor(const std::string* authorization)
      : authorization_(authorization) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization",
                                                 *authorization_);
    }
    methods->Proceed();
  }

 private:
  // Owned by the factory, which the channel keeps as long as its calls.
  const std::string* const authorization_;
};

class TokenInterceptorFactory final : public ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::string authorization)
      : authorization_(std::move(authorization)) {}

  Interceptor* CreateClientInterceptor(ClientRpcInfo*) override {
    return new TokenInterceptor(&authorization_);
  }

 private:
  const std::string authorization_;
};

}  // namespace

std::shared_ptr<grpc::Channel> DialTree(
    const std::string& target, const TreeToken& token,
    const grpc::ChannelArguments& arguments) {
  std::vector<std::unique_ptr<ClientInterceptorFactoryInterface>> factories;
  factories.push_back(
      std::make_unique<TokenInterceptorFactory>(token.AuthorizationValue()));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, grpc::InsecureChannelCredentials(), arguments,
      std::move(factories));
}

}  // namespace tether
