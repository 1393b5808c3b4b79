#pragma once
// The simulator's only source of randomness: xoshiro256** seeded through splitmix64, so that a
// seed names one run exactly, on any machine and compiler (no std:: distributions, whose output
// the standard leaves to the library).
#include <cstdint>

namespace topup::sim {

/// class prng — xoshiro256** (Blackman and Vigna). One per run, owned by the world; every random
/// choice of the run is drawn from it in the order the single-threaded run makes them.
class prng {
 public:
  explicit prng(std::uint64_t seed) noexcept {
    for (auto& word : s_) word = splitmix64(seed);
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, n); 0 when n is 0. (The modulo bias is below 2^-40 for the small n used.)
  std::uint64_t below(std::uint64_t n) noexcept { return n == 0 ? 0 : next() % n; }
  /// Uniform in [lo, hi], both included.
  std::int64_t between(std::int64_t lo, std::int64_t hi) noexcept {
    return hi <= lo ? lo : lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  /// True with probability per_mille / 1000.
  bool chance(std::uint64_t per_mille) noexcept { return below(1000) < per_mille; }

  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace topup::sim
