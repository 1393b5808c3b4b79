#pragma once
// The run's trace: one line per thing the world did or the engine stored, stamped with the
// simulated time and the step. The same seed writes the same bytes, which `sim.replay` checks.
#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <utility>

namespace topup::sim {

/// class trace — collects the lines of one run (when on) and a running hash of them (always,
/// when on). Owned by the world; written from the single simulation thread.
class trace {
 public:
  enum class level { off, normal, verbose };
  explicit trace(level l) : level_(l) {}

  bool on() const noexcept { return level_ != level::off; }
  bool verbose() const noexcept { return level_ == level::verbose; }
  void at(std::int64_t elapsed_ms, std::int64_t step) noexcept {
    elapsed_ms_ = elapsed_ms;
    step_ = step;
  }

  /// A line of the normal trace.
  template <class... Args>
  void line(fmt::format_string<Args...> f, Args&&... args) {
    if (on()) add(fmt::format(f, std::forward<Args>(args)...));
  }
  /// A line only --verbose shows (and hashes).
  template <class... Args>
  void detail(fmt::format_string<Args...> f, Args&&... args) {
    if (verbose()) add(fmt::format(f, std::forward<Args>(args)...));
  }

  const std::string& text() const noexcept { return text_; }
  std::uint64_t hash() const noexcept { return hash_; }

 private:
  void add(const std::string& body);

  level level_;
  std::int64_t elapsed_ms_ = 0;
  std::int64_t step_ = 0;
  std::string text_;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;  // FNV-1a
};

}  // namespace topup::sim
