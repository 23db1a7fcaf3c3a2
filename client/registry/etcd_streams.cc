#include "client/registry/etcd_streams.h"

#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rpc/status_conversion.h"
#include "runtime/base/log.h"
#include "runtime/task/wait.h"
#include "tether/status_macros.h"

namespace tether {
namespace etcd_internal {

std::string PrefixEnd(std::string prefix) {
  ++prefix.back();
  return prefix;
}

absl::StatusOr<std::unique_ptr<LeaseKeeper>> LeaseKeeper::Start(
    std::string registry, etcdserverpb::Lease::Stub* stub, int64_t lease,
    absl::Duration period) {
  std::unique_ptr<LeaseKeeper> keeper(
      new LeaseKeeper(std::move(registry), stub, lease, period));
  try {
    keeper->thread_ = std::thread([keeper = keeper.get()] { keeper->Run(); });
  } catch (const std::system_error& error) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no thread to renew the lease: ", error.what()));
  }
  return keeper;
}

LeaseKeeper::LeaseKeeper(std::string registry, etcdserverpb::Lease::Stub* stub,
                         int64_t lease, absl::Duration period)
    : registry_(std::move(registry)),
      stub_(stub),
      lease_(lease),
      period_(period) {}

LeaseKeeper::~LeaseKeeper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void LeaseKeeper::Run() {
  int broken = 0;
  // The lease is fresh: the first renewal is due a period from now.
  while (!StoppingBy(absl::Now() + period_)) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      context_ = &context;
    }
    std::unique_ptr<Stream> stream = stub_->LeaseKeepAlive(&context);
    const Outcome outcome = Renew(*stream, &broken);
    context.TryCancel();
    const grpc::Status status = stream->Finish();
    {
      absl::MutexLock lock(&mu_);
      context_ = nullptr;
    }
    switch (outcome) {
      case Outcome::kStopped:
        return;
      case Outcome::kLost:
        TETHER_LOG(kWarning)
            << "registry " << registry_ << ": lease " << lease_
            << " is gone (expired or revoked); this actor's entry is no "
               "longer registered";
        return;
      case Outcome::kBroken:
        // Once per outage, not once per retry.
        if (broken++ == 0) {
          TETHER_LOG(kWarning)
              << "registry " << registry_ << ": renewing lease " << lease_
              << " failed: " << status.error_message() << "; retrying";
        }
        break;
    }
  }
}

LeaseKeeper::Outcome LeaseKeeper::Renew(Stream& stream, int* broken) {
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease_);
  etcdserverpb::LeaseKeepAliveResponse response;
  while (true) {
    if (!stream.Write(request) || !stream.Read(&response)) {
      return StoppingBy(absl::InfinitePast()) ? Outcome::kStopped
                                              : Outcome::kBroken;
    }
    if (response.ttl() <= 0) return Outcome::kLost;
    if (*broken > 0) {
      TETHER_LOG(kInfo) << "registry " << registry_ << ": renewing lease "
                        << lease_ << " again";
      *broken = 0;
    }
    if (StoppingBy(absl::Now() + period_)) return Outcome::kStopped;
  }
}

bool LeaseKeeper::StoppingBy(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&stopping_), deadline);
  return stopping_;
}

PrefixWatch::PrefixWatch(etcdserverpb::Watch::Stub* stub,
                         const std::string& prefix, int64_t start_revision) {
  etcdserverpb::WatchCreateRequest* create = request_.mutable_create_request();
  create->set_key(prefix);
  create->set_range_end(PrefixEnd(prefix));
  create->set_start_revision(start_revision);
  create->add_filters(etcdserverpb::WatchCreateRequest::NODELETE);
  stub->async()->Watch(&context_, this);
  StartWrite(&request_);
  StartRead(&response_);
  StartCall();
}

PrefixWatch::~PrefixWatch() {
  context_.TryCancel();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&done_));
}

absl::StatusOr<PrefixWatch::Event> PrefixWatch::Next(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  TETHER_RETURN_IF_ERROR(AwaitLocked(
      mu_, waiters_,
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return puts_ > 0 || canceled_ || done_;
      },
      deadline));
  if (puts_ > 0) {
    puts_ = 0;
    return Event::kPut;
  }
  if (canceled_) return Event::kRestart;
  if (status_.ok()) return absl::UnavailableError("etcd ended the watch");
  return status_;
}

void PrefixWatch::OnReadDone(bool ok) {
  if (!ok) return;  // the call is ending; OnDone follows
  {
    absl::MutexLock lock(&mu_);
    puts_ += response_.events_size();
    if (response_.canceled()) {
      TETHER_LOG(kDebug) << "etcd cancelled a watch: "
                         << response_.cancel_reason();
      canceled_ = true;
    }
    waiters_.NotifyAll();
    // A cancelled watch sends nothing more; the destructor ends the call.
    if (canceled_) return;
  }
  StartRead(&response_);
}

void PrefixWatch::OnDone(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  status_ = ToAbslStatus(status);
  done_ = true;
  waiters_.NotifyAll();
}

}  // namespace etcd_internal
}  // namespace tether
