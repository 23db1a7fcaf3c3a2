// File: server/served_descriptors.h
//
// The descriptors an actor serves through reflection: every .proto file of
// the services it serves (tether.v1, grpc.health.v1, reflection itself) and
// their imports, compiled into the binary at build time by protoc with
// their comments (source info) and JSON names, so that grpcurl prints the
// contract's comments and the lowerCamelCase names docs/protocol.md uses.
//
//   const ServedDescriptors& served = ServedDescriptors::Get();
//   absl::StatusOr<std::vector<std::string>> files =
//       served.FileContainingSymbol("tether.v1.Actor");
//   // files->front() is tether/v1/actor.proto, serialized; its imports
//   // follow.
//
// Thread-safe: immutable once built.

#ifndef TETHER_SERVER_SERVED_DESCRIPTORS_H_
#define TETHER_SERVER_SERVED_DESCRIPTORS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace tether {

class ServedDescriptors {
 public:
  // The set compiled into this binary (server/BUILD, served_descriptor_set).
  static const ServedDescriptors& Get();

  // Parses a serialized FileDescriptorSet whose every import is in it.
  static absl::StatusOr<std::unique_ptr<ServedDescriptors>> FromSet(
      absl::string_view serialized);

  ServedDescriptors(const ServedDescriptors&) = delete;
  ServedDescriptors& operator=(const ServedDescriptors&) = delete;

  // Each answers serialized FileDescriptorProtos: the file asked for first,
  // then every file it imports, directly or not, each once. NotFound
  // naming what was asked for otherwise.
  absl::StatusOr<std::vector<std::string>> FileByName(
      absl::string_view name) const;
  absl::StatusOr<std::vector<std::string>> FileContainingSymbol(
      absl::string_view symbol) const;
  absl::StatusOr<std::vector<std::string>> FileContainingExtension(
      absl::string_view containing_type, int number) const;

  // The numbers of every extension of the message `type`, ascending.
  absl::StatusOr<std::vector<int>> ExtensionNumbers(
      absl::string_view type) const;

  // Whether `service` (a full name) is described here.
  bool HasService(absl::string_view service) const;

 private:
  ServedDescriptors() = default;

  std::vector<std::string> WithImports(
      const google::protobuf::FileDescriptor& file) const;

  google::protobuf::DescriptorPool pool_;
  // File name -> the FileDescriptorProto as protoc wrote it, serialized
  // (the pool's own copy drops json_name where it is the default).
  absl::flat_hash_map<std::string, std::string> serialized_;
};

}  // namespace tether

#endif  // TETHER_SERVER_SERVED_DESCRIPTORS_H_
