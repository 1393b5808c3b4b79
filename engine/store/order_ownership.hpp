#pragma once
// Which orders this instance drives (DESIGN.md "Scaling past one machine"): its own, by the
// instance id their number encodes, but for those another instance took over while it was dead;
// and the orders of dead instances it took over itself (docs/STORAGE.md "Takeover").
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace topup::engine {

/// A dead instance's orders taken over: those whose number encodes `instance` and a time at or
/// before `cutoff_ms` (Redis's clock at the claim, plus a margin), driven by the claimer until
/// none is left.
struct foster_claim {
  std::uint32_t instance = 0;
  std::int64_t cutoff_ms = 0;
  std::int64_t epoch = 0;  // the dead instance's epoch the claim raised its fences to
  bool operator==(const foster_claim&) const = default;
};

/// Shared by every shard of one instance (reads on any thread), changed by the takeover watch on
/// the main thread. Orders belong to shards by the shard their number encodes, modulo today's
/// shard count, whoever drives them.
class order_ownership {
 public:
  explicit order_ownership(std::uint32_t self) : self_(self) {}

  /// Whether this instance's shard `shard` of `shard_count` drives the order `number` now.
  bool drives(std::string_view number, unsigned shard, unsigned shard_count) const;
  /// Whether this instance drives the order `number` now, on whichever of its shards.
  bool drives(std::string_view number) const { return drives(number, 0, 1); }
  /// Whether `number` is one of `claim`'s orders and belongs to shard `shard`.
  static bool fostered_by(const foster_claim& claim, std::string_view number, unsigned shard,
                          unsigned shard_count);

  /// The claims this instance holds now.
  void set_claims(std::vector<foster_claim> claims);
  std::vector<foster_claim> claims() const;
  /// Another instance drives this instance's own orders up to `cutoff_ms` (it took them over
  /// while this one was dead); nullopt: none.
  void set_taken_until(std::optional<std::int64_t> cutoff_ms);
  std::optional<std::int64_t> taken_until() const;
  std::uint32_t self() const noexcept { return self_; }

 private:
  const std::uint32_t self_;
  mutable std::mutex mutex_;
  std::vector<foster_claim> claims_;
  std::optional<std::int64_t> taken_until_;
};

}  // namespace topup::engine
