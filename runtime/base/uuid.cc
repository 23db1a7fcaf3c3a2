#include "runtime/base/uuid.h"

#include <cstdint>

#include "absl/base/const_init.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"

namespace tether {
namespace {

// absl::BitGen is seeded from the OS entropy source; it is not thread-safe,
// so one shared generator sits behind a mutex (UUIDs are made rarely).
absl::Mutex g_gen_mu(absl::kConstInit);

absl::BitGen& Generator() ABSL_EXCLUSIVE_LOCKS_REQUIRED(g_gen_mu) {
  static absl::BitGen* gen = new absl::BitGen();
  return *gen;
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string NewUuid() {
  uint8_t bytes[16];
  {
    absl::MutexLock lock(&g_gen_mu);
    for (uint8_t& byte : bytes) {
      byte = absl::Uniform<uint8_t>(absl::IntervalClosed, Generator(), 0, 255);
    }
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;  // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80;  // RFC 4122 variant
  std::string text;
  text.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
    text.push_back(kHex[bytes[i] >> 4]);
    text.push_back(kHex[bytes[i] & 0x0f]);
  }
  return text;
}

bool IsUuid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace tether
