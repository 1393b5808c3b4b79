#include "engine/store/order_ownership.hpp"

#include "engine/order/order_number.hpp"

namespace topup::engine {

bool order_ownership::fostered_by(const foster_claim& claim, std::string_view number,
                                  unsigned shard, unsigned shard_count) {
  auto parts = parse_order_number(number);
  return parts && parts->instance == claim.instance &&
         static_cast<std::int64_t>(parts->unix_ms) <= claim.cutoff_ms &&
         parts->shard % shard_count == shard;
}

bool order_ownership::drives(std::string_view number, unsigned shard, unsigned shard_count) const {
  auto parts = parse_order_number(number);
  if (!parts || parts->shard % shard_count != shard) return false;
  const auto at = static_cast<std::int64_t>(parts->unix_ms);
  std::lock_guard lock(mutex_);
  if (parts->instance == self_) return !taken_until_ || at > *taken_until_;
  for (const auto& c : claims_)
    if (c.instance == parts->instance && at <= c.cutoff_ms) return true;
  return false;
}

void order_ownership::set_claims(std::vector<foster_claim> claims) {
  std::lock_guard lock(mutex_);
  claims_ = std::move(claims);
}

std::vector<foster_claim> order_ownership::claims() const {
  std::lock_guard lock(mutex_);
  return claims_;
}

void order_ownership::set_taken_until(std::optional<std::int64_t> cutoff_ms) {
  std::lock_guard lock(mutex_);
  taken_until_ = cutoff_ms;
}

std::optional<std::int64_t> order_ownership::taken_until() const {
  std::lock_guard lock(mutex_);
  return taken_until_;
}

}  // namespace topup::engine
