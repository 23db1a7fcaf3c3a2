#include "server/reflection_service.h"

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "rpc/call_queue.h"
#include "server/served_descriptors.h"

namespace tether {
namespace {

using Response = ReflectionService::Response;

void SetError(const absl::Status& status, Response* response) {
  response->mutable_error_response()->set_error_code(
      static_cast<int>(status.code()));
  response->mutable_error_response()->set_error_message(
      std::string(status.message()));
}

void SetFiles(const absl::StatusOr<std::vector<std::string>>& files,
              Response* response) {
  if (!files.ok()) return SetError(files.status(), response);
  for (const std::string& file : *files) {
    response->mutable_file_descriptor_response()->add_file_descriptor_proto(
        file);
  }
}

}  // namespace

// One ServerReflectionInfo stream: reads a request, writes its answer,
// reads the next, and finishes OK once the client half-closes. One
// operation is outstanding at a time besides the end-of-call event; the
// call frees itself once gRPC is done with it and nothing is outstanding.
class ReflectionService::InfoCall {
 public:
  explicit InfoCall(ReflectionService* service)
      : service_(service), live_(service->requester_) {
    context_.AsyncNotifyWhenDone(&done_event_);
  }

  bool Request() {
    grpc::ServerCompletionQueue* queue = service_->requester_->queue();
    return service_->requester_->Request([&] {
      service_->RequestServerReflectionInfo(&context_, &stream_, queue, queue,
                                            &arrived_);
    });
  }

 private:
  void OnArrived(bool ok) {
    if (!ok) {  // The server shut down first: no call, so no other event.
      delete this;
      return;
    }
    service_->RequestNextInfo();
    const grpc::Status admitted = service_->requester_->Admit(context_);
    if (!admitted.ok()) return Finish(admitted);
    StartRead();
  }

  void StartRead() {
    busy_ = true;
    stream_.Read(&request_, &read_);
  }

  void OnRead(bool ok) {
    busy_ = false;
    if (!ok) {
      // The client half-closed (or the call broke: then the finish fails
      // and the end of call follows).
      Finish(grpc::Status::OK);
      return;
    }
    response_ = service_->Answer(request_);
    busy_ = true;
    stream_.Write(response_, &wrote_);
  }

  void OnWritten(bool ok) {
    busy_ = false;
    if (ok) {
      StartRead();
    } else {
      FreeIfOver();  // The call broke; its end-of-call event follows.
    }
  }

  void Finish(const grpc::Status& status) {
    busy_ = true;
    stream_.Finish(status, &finished_);
  }

  void OnFinished(bool) {
    busy_ = false;
    FreeIfOver();
  }

  void OnDone(bool) {
    done_ = true;
    FreeIfOver();
  }

  void FreeIfOver() {
    if (done_ && !busy_) delete this;
  }

  ReflectionService* const service_;
  const CallRequester::LiveCall live_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<Response, ReflectionService::Request> stream_{
      &context_};
  ReflectionService::Request request_;
  Response response_;
  // A read, write or finish is outstanding.
  bool busy_ = false;
  // gRPC is done with the call.
  bool done_ = false;
  MemberEvent<InfoCall> arrived_{this, &InfoCall::OnArrived};
  MemberEvent<InfoCall> read_{this, &InfoCall::OnRead};
  MemberEvent<InfoCall> wrote_{this, &InfoCall::OnWritten};
  MemberEvent<InfoCall> finished_{this, &InfoCall::OnFinished};
  MemberEvent<InfoCall> done_event_{this, &InfoCall::OnDone};
};

ReflectionService::ReflectionService(std::vector<std::string> services)
    : services_([&] {
        std::sort(services.begin(), services.end());
        return std::move(services);
      }()) {}

void ReflectionService::StartServing(CallRequester* requester) {
  requester_ = requester;
  RequestNextInfo();
}

void ReflectionService::RequestNextInfo() {
  auto* call = new InfoCall(this);
  if (!call->Request()) delete call;
}

Response ReflectionService::Answer(const Request& request) const {
  const ServedDescriptors& served = ServedDescriptors::Get();
  Response response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  switch (request.message_request_case()) {
    case Request::kFileByFilename:
      SetFiles(served.FileByName(request.file_by_filename()), &response);
      break;
    case Request::kFileContainingSymbol:
      SetFiles(served.FileContainingSymbol(request.file_containing_symbol()),
               &response);
      break;
    case Request::kFileContainingExtension:
      SetFiles(served.FileContainingExtension(
                   request.file_containing_extension().containing_type(),
                   request.file_containing_extension().extension_number()),
               &response);
      break;
    case Request::kAllExtensionNumbersOfType: {
      absl::StatusOr<std::vector<int>> numbers =
          served.ExtensionNumbers(request.all_extension_numbers_of_type());
      if (!numbers.ok()) {
        SetError(numbers.status(), &response);
        break;
      }
      auto* found = response.mutable_all_extension_numbers_response();
      found->set_base_type_name(request.all_extension_numbers_of_type());
      for (int number : *numbers) found->add_extension_number(number);
      break;
    }
    case Request::kListServices:
      for (const std::string& service : services_) {
        response.mutable_list_services_response()->add_service()->set_name(
            service);
      }
      break;
    case Request::MESSAGE_REQUEST_NOT_SET:
      SetError(absl::UnimplementedError("the request asks for nothing"),
               &response);
      break;
  }
  return response;
}

}  // namespace tether
