#include "server/served_descriptors.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"

namespace tether {

// Defined in the source the build generates from the .proto files
// (server/BUILD, served_descriptor_set).
extern const unsigned char kServedDescriptorSet[];
extern const size_t kServedDescriptorSetSize;

const ServedDescriptors& ServedDescriptors::Get() {
  static const ServedDescriptors* const served = [] {
    absl::StatusOr<std::unique_ptr<ServedDescriptors>> parsed = FromSet(
        absl::string_view(reinterpret_cast<const char*>(kServedDescriptorSet),
                          kServedDescriptorSetSize));
    if (!parsed.ok()) {
      // The build made the set: it cannot be wrong at run time.
      std::fprintf(stderr, "tether: the compiled-in descriptors: %s\n",
                   std::string(parsed.status().message()).c_str());
      std::abort();
    }
    return parsed->release();
  }();
  return *served;
}

absl::StatusOr<std::unique_ptr<ServedDescriptors>> ServedDescriptors::FromSet(
    absl::string_view serialized) {
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromArray(serialized.data(),
                          static_cast<int>(serialized.size()))) {
    return absl::InvalidArgumentError("not a FileDescriptorSet");
  }
  std::unique_ptr<ServedDescriptors> served(new ServedDescriptors());
  // protoc writes a file after its imports (--include_imports), which is
  // the order the pool needs.
  for (const google::protobuf::FileDescriptorProto& file : set.file()) {
    if (served->pool_.BuildFile(file) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot build ", file.name(), " (an import missing?)"));
    }
    served->serialized_[file.name()] = file.SerializeAsString();
  }
  return served;
}

std::vector<std::string> ServedDescriptors::WithImports(
    const google::protobuf::FileDescriptor& file) const {
  std::vector<std::string> files;
  absl::flat_hash_set<const google::protobuf::FileDescriptor*> seen = {&file};
  std::vector<const google::protobuf::FileDescriptor*> pending = {&file};
  while (!pending.empty()) {
    const google::protobuf::FileDescriptor* next = pending.back();
    pending.pop_back();
    files.push_back(serialized_.at(next->name()));
    for (int i = 0; i < next->dependency_count(); ++i) {
      if (seen.insert(next->dependency(i)).second) {
        pending.push_back(next->dependency(i));
      }
    }
  }
  return files;
}

absl::StatusOr<std::vector<std::string>> ServedDescriptors::FileByName(
    absl::string_view name) const {
  const google::protobuf::FileDescriptor* file =
      pool_.FindFileByName(std::string(name));
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("no file named ", name));
  }
  return WithImports(*file);
}

absl::StatusOr<std::vector<std::string>>
ServedDescriptors::FileContainingSymbol(absl::string_view symbol) const {
  const google::protobuf::FileDescriptor* file =
      pool_.FindFileContainingSymbol(std::string(symbol));
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("no symbol named ", symbol));
  }
  return WithImports(*file);
}

absl::StatusOr<std::vector<std::string>>
ServedDescriptors::FileContainingExtension(absl::string_view containing_type,
                                           int number) const {
  const google::protobuf::Descriptor* type =
      pool_.FindMessageTypeByName(std::string(containing_type));
  if (type == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no message type named ", containing_type));
  }
  const google::protobuf::FieldDescriptor* extension =
      pool_.FindExtensionByNumber(type, number);
  if (extension == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no extension ", number, " of ", containing_type));
  }
  return WithImports(*extension->file());
}

absl::StatusOr<std::vector<int>> ServedDescriptors::ExtensionNumbers(
    absl::string_view type_name) const {
  const google::protobuf::Descriptor* type =
      pool_.FindMessageTypeByName(std::string(type_name));
  if (type == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no message type named ", type_name));
  }
  std::vector<const google::protobuf::FieldDescriptor*> extensions;
  pool_.FindAllExtensions(type, &extensions);
  std::vector<int> numbers;
  numbers.reserve(extensions.size());
  for (const google::protobuf::FieldDescriptor* extension : extensions) {
    numbers.push_back(extension->number());
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

bool ServedDescriptors::HasService(absl::string_view service) const {
  return pool_.FindServiceByName(std::string(service)) != nullptr;
}

}  // namespace tether
