#include "runtime/base/secrets.h"

#include <sys/random.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"

namespace tether {

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t n = getrandom(raw.data() + filled, bytes - filled, 0);
    if (n < 0) {
      // No kernel randomness: no secret worth having. A broken machine.
      std::perror("tether: getrandom");
      std::abort();
    }
    filled += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(raw);
}

bool SecretsEqual(absl::string_view presented, absl::string_view secret) {
  // Every byte of `secret` is compared, and the length difference joins
  // the result, so the time says nothing about where they differ.
  uint8_t difference = presented.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < secret.size(); ++i) {
    const char byte = i < presented.size() ? presented[i] : 0;
    difference |= static_cast<uint8_t>(byte ^ secret[i]);
  }
  return difference == 0;
}

}  // namespace tether
