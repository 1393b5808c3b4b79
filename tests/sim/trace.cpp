#include "tests/sim/trace.hpp"

namespace topup::sim {

void trace::add(const std::string& body) {
  std::string stamped = fmt::format("[{:>4}.{:03}s #{:<5}] {}\n", elapsed_ms_ / 1000,
                                    elapsed_ms_ % 1000, step_, body);
  for (unsigned char ch : stamped) {
    hash_ ^= ch;
    hash_ *= 0x100000001b3ULL;
  }
  text_ += stamped;
}

}  // namespace topup::sim
