#include "client/registry/etcd_registry.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/registry/etcd_streams.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "rpc/await_call.h"
#include "rpc/status_conversion.h"
#include "runtime/base/log.h"
#include "tether/status_macros.h"
#include "tether/task.h"

namespace tether {
namespace {

using etcd_internal::LeaseKeeper;
using etcd_internal::PrefixEnd;
using etcd_internal::PrefixWatch;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;

// How long a released registration may take to revoke its lease; past it
// the lease simply expires.
constexpr absl::Duration kRevokeTimeout = absl::Seconds(1);

// The keys of the entries named `name`.
std::string NamePrefix(absl::string_view name) {
  return absl::StrCat(kEtcdKeyPrefix, name, "/");
}

// Names and uuids are key segments, so neither may hold a '/'.
absl::Status CheckEntry(const v1::RegistryEntry& entry) {
  const v1::ActorId& id = entry.actor().id();
  if (id.name().empty() || id.uuid().empty()) {
    return absl::InvalidArgumentError(
        "a registry entry needs actor.id.name and actor.id.uuid");
  }
  if (absl::StrContains(id.name(), '/') || absl::StrContains(id.uuid(), '/')) {
    return absl::InvalidArgumentError(absl::StrCat("registry entry ", id.name(),
                                                   "[", id.uuid(),
                                                   "]: '/' in a name or uuid"));
  }
  if (entry.actor().addresses().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "registry entry ", id.name(), "[", id.uuid(), "] has no address"));
  }
  for (const std::string& address : entry.actor().addresses()) {
    TETHER_RETURN_IF_ERROR(Address::Parse(address).status());
  }
  return absl::OkStatus();
}

// The entries stored in `found`, in its order. A value that is not an
// entry (another program wrote under the prefix) is skipped.
std::vector<v1::RegistryEntry> Entries(const RangeResponse& found,
                                       const std::string& registry) {
  std::vector<v1::RegistryEntry> entries;
  entries.reserve(found.kvs_size());
  for (const mvccpb::KeyValue& kv : found.kvs()) {
    v1::RegistryEntry entry;
    if (!entry.ParseFromString(kv.value())) {
      TETHER_LOG(kWarning) << "registry " << registry << ": key " << kv.key()
                           << " holds no registry entry; skipped";
      continue;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

class EtcdRegistry final : public Registry {
 public:
  explicit EtcdRegistry(const Address& endpoint)
      : address_(absl::StrCat(kEtcdScheme, endpoint.ToString())) {
    const std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
        endpoint.ToString(), grpc::InsecureChannelCredentials());
    kv_stub_ = etcdserverpb::KV::NewStub(channel);
    watch_stub_ = etcdserverpb::Watch::NewStub(channel);
    lease_stub_ = etcdserverpb::Lease::NewStub(channel);
  }

  const std::string& address() const override { return address_; }

  absl::StatusOr<std::unique_ptr<Registration>> Hold(
      const v1::RegistryEntry& entry, absl::Time deadline) override;

  absl::StatusOr<bool> Unregister(const std::string& uuid,
                                  absl::string_view reason,
                                  absl::Time deadline) override;

  absl::StatusOr<std::vector<v1::RegistryEntry>> Find(
      const std::string& name, absl::Time deadline) override {
    absl::StatusOr<RangeResponse> found =
        Range(NamePrefix(name), /*keys_only=*/false, deadline);
    if (!found.ok()) {
      return LookupError(found.status(), absl::StrCat("find '", name, "'"));
    }
    return Entries(*found, address_);
  }

  absl::StatusOr<std::vector<v1::RegistryEntry>> Wait(
      const std::string& name, absl::Time deadline) override;

  absl::StatusOr<std::vector<v1::RegistryEntry>> List(
      absl::Time deadline) override {
    absl::StatusOr<RangeResponse> found =
        Range(std::string(kEtcdKeyPrefix), /*keys_only=*/false, deadline);
    if (!found.ok()) return LookupError(found.status(), "list");
    std::vector<v1::RegistryEntry> entries = Entries(*found, address_);
    // Newest first already; the stable sort keeps that within each name.
    std::stable_sort(
        entries.begin(), entries.end(),
        [](const v1::RegistryEntry& a, const v1::RegistryEntry& b) {
          return a.actor().id().name() < b.actor().id().name();
        });
    return entries;
  }

  // Ends `lease`, deleting its key. Not a cancellation point: it runs as
  // actors stop.
  absl::Status RevokeLease(int64_t lease, absl::Time deadline) {
    etcdserverpb::LeaseRevokeRequest request;
    request.set_id(lease);
    etcdserverpb::LeaseRevokeResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    return Annotate(
        ToAbslStatus(lease_stub_->LeaseRevoke(&context, request, &response)),
        "revoke the registration's lease");
  }

 private:
  // Prefixes an error with this registry and what was being done.
  absl::Status Annotate(const absl::Status& status,
                        absl::string_view what) const {
    if (status.ok()) return status;
    return absl::Status(status.code(),
                        absl::StrCat("registry ", address_, ": ", what, ": ",
                                     status.message()));
  }

  // As Annotate, for the error of a cancellation point: a cancelled task
  // gets its cancel reason as it is.
  absl::Status LookupError(const absl::Status& status,
                           absl::string_view what) const {
    const absl::Status cancelled = CheckCancelled();
    if (!cancelled.ok()) return cancelled;
    return Annotate(status, what);
  }

  // The keys under `prefix`, newest first, as a cancellation point.
  // Errors are not annotated.
  absl::StatusOr<RangeResponse> Range(const std::string& prefix, bool keys_only,
                                      absl::Time deadline) {
    RangeRequest request;
    request.set_key(prefix);
    request.set_range_end(PrefixEnd(prefix));
    request.set_sort_target(RangeRequest::CREATE);
    request.set_sort_order(RangeRequest::DESCEND);
    request.set_keys_only(keys_only);
    RangeResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    const absl::Status status =
        AwaitCall<RangeResponse>(context, &response, [&](auto* queue) {
          return kv_stub_->AsyncRange(&context, request, queue);
        });
    if (!status.ok()) return status;
    return response;
  }

  // Waits for `name` as Wait does, with errors not yet annotated.
  absl::StatusOr<std::vector<v1::RegistryEntry>> AwaitEntries(
      const std::string& name, absl::Time deadline);

  const std::string address_;
  // Set by the constructor; gRPC stubs are thread-safe.
  std::unique_ptr<etcdserverpb::KV::Stub> kv_stub_;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch_stub_;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease_stub_;
};

// Renews the lease while it lives; destroying it revokes the lease, which
// deletes the entry's key.
class EtcdRegistration final : public Registry::Registration {
 public:
  EtcdRegistration(EtcdRegistry* registry, int64_t lease,
                   std::unique_ptr<LeaseKeeper> keeper)
      : registry_(registry), lease_(lease), keeper_(std::move(keeper)) {}

  ~EtcdRegistration() override {
    keeper_.reset();
    const absl::Status revoked =
        registry_->RevokeLease(lease_, absl::Now() + kRevokeTimeout);
    if (!revoked.ok()) {
      TETHER_LOG(kDebug) << revoked.message()
                         << " (the entry expires with the lease instead)";
    }
  }

 private:
  EtcdRegistry* const registry_;
  const int64_t lease_;
  std::unique_ptr<LeaseKeeper> keeper_;
};

absl::StatusOr<std::unique_ptr<Registry::Registration>> EtcdRegistry::Hold(
    const v1::RegistryEntry& entry, absl::Time deadline) {
  TETHER_RETURN_IF_ERROR(Annotate(CheckEntry(entry), "register"));
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(absl::ToInt64Seconds(kEtcdLeaseTtl));
  etcdserverpb::LeaseGrantResponse granted;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    TETHER_RETURN_IF_ERROR(Annotate(
        ToAbslStatus(lease_stub_->LeaseGrant(&context, grant, &granted)),
        "register: grant a lease"));
  }
  if (granted.ttl() <= 0) {
    return Annotate(absl::InternalError("etcd granted a lease of no time"),
                    "register");
  }

  v1::RegistryEntry stored = entry;
  *stored.mutable_registered_at() =
      google::protobuf::util::TimeUtil::GetCurrentTime();
  etcdserverpb::PutRequest put;
  put.set_key(absl::StrCat(NamePrefix(entry.actor().id().name()),
                           entry.actor().id().uuid()));
  put.set_value(stored.SerializeAsString());
  put.set_lease(granted.id());
  etcdserverpb::PutResponse response;
  absl::Status status;
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    status = Annotate(ToAbslStatus(kv_stub_->Put(&context, put, &response)),
                      "register: put the entry");
  }
  // Renewals run at a third of the TTL etcd granted (it may round up).
  absl::StatusOr<std::unique_ptr<LeaseKeeper>> keeper;
  if (status.ok()) {
    keeper = LeaseKeeper::Start(address_, lease_stub_.get(), granted.id(),
                                absl::Seconds(granted.ttl()) / 3);
    status = Annotate(keeper.status(), "register");
  }
  if (!status.ok()) {
    // The lease would expire by itself; revoking it frees it now.
    RevokeLease(granted.id(), absl::Now() + kRevokeTimeout).IgnoreError();
    return status;
  }
  return std::make_unique<EtcdRegistration>(this, granted.id(),
                                            *std::move(keeper));
}

absl::StatusOr<bool> EtcdRegistry::Unregister(const std::string& uuid,
                                              absl::string_view reason,
                                              absl::Time deadline) {
  if (uuid.empty() || absl::StrContains(uuid, '/')) {
    return Annotate(absl::InvalidArgumentError("Unregister needs a uuid"),
                    "unregister");
  }
  const std::string what = absl::StrCat("unregister [", uuid, "]");
  absl::StatusOr<RangeResponse> keys =
      Range(std::string(kEtcdKeyPrefix), /*keys_only=*/true, deadline);
  if (!keys.ok()) return LookupError(keys.status(), what);
  const std::string suffix = absl::StrCat("/", uuid);
  bool removed = false;
  for (const mvccpb::KeyValue& kv : keys->kvs()) {
    if (!absl::EndsWith(kv.key(), suffix)) continue;
    etcdserverpb::DeleteRangeRequest request;
    request.set_key(kv.key());
    etcdserverpb::DeleteRangeResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    const absl::Status status = AwaitCall<etcdserverpb::DeleteRangeResponse>(
        context, &response, [&](auto* queue) {
          return kv_stub_->AsyncDeleteRange(&context, request, queue);
        });
    if (!status.ok()) return LookupError(status, what);
    removed = removed || response.deleted() > 0;
  }
  if (removed) {
    TETHER_LOG(kInfo) << "registry " << address_ << ": unregistered [" << uuid
                      << "]: " << (reason.empty() ? "no reason given" : reason);
  }
  return removed;
}

absl::StatusOr<std::vector<v1::RegistryEntry>> EtcdRegistry::Wait(
    const std::string& name, absl::Time deadline) {
  if (name.empty()) {
    return Annotate(absl::InvalidArgumentError("Wait needs a name"), "wait");
  }
  absl::StatusOr<std::vector<v1::RegistryEntry>> entries =
      AwaitEntries(name, deadline);
  if (absl::IsDeadlineExceeded(entries.status()) && CheckCancelled().ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat("registry ", address_, ": no actor named '", name,
                     "' registered before the deadline"));
  }
  if (!entries.ok()) {
    return LookupError(entries.status(), absl::StrCat("wait for '", name, "'"));
  }
  return entries;
}

absl::StatusOr<std::vector<v1::RegistryEntry>> EtcdRegistry::AwaitEntries(
    const std::string& name, absl::Time deadline) {
  const std::string prefix = NamePrefix(name);
  while (true) {
    TETHER_ASSIGN_OR_RETURN(RangeResponse found,
                            Range(prefix, /*keys_only=*/false, deadline));
    if (found.kvs_size() > 0) return Entries(found, address_);
    // Every put after the read, and none before it.
    PrefixWatch watch(watch_stub_.get(), prefix, found.header().revision() + 1);
    while (true) {
      TETHER_ASSIGN_OR_RETURN(PrefixWatch::Event event, watch.Next(deadline));
      if (event == PrefixWatch::Event::kRestart) break;
      // The entry may be gone again already; then the watch goes on.
      TETHER_ASSIGN_OR_RETURN(found,
                              Range(prefix, /*keys_only=*/false, deadline));
      if (found.kvs_size() > 0) return Entries(found, address_);
    }
  }
}

}  // namespace

bool IsEtcdAddress(absl::string_view address) {
  return absl::StartsWith(address, kEtcdScheme);
}

absl::StatusOr<Address> ParseEtcdAddress(absl::string_view address) {
  absl::string_view endpoint = address;
  absl::StatusOr<Address> parsed =
      absl::InvalidArgumentError("no etcd:// scheme");
  if (absl::ConsumePrefix(&endpoint, kEtcdScheme)) {
    parsed = Address::Parse(endpoint);
    if (parsed.ok() && !parsed->is_tcp()) {
      parsed = absl::InvalidArgumentError("etcd is reached over TCP");
    } else if (parsed.ok() && parsed->port() == 0) {
      parsed = absl::InvalidArgumentError("port 0 cannot be dialed");
    }
  }
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed registry address '", address,
        "': ", parsed.status().message(), " (expected etcd://host:port)"));
  }
  return parsed;
}

std::unique_ptr<Registry> NewEtcdRegistry(const Address& endpoint) {
  return std::make_unique<EtcdRegistry>(endpoint);
}

}  // namespace tether
