#pragma once
// The counted risk rules (spec §3.8): per mobile number, orders and face value over a rolling
// window, across every merchant and instance; per merchant, face value per business day.
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/config.hpp"
#include "engine/redis/connection.hpp"

namespace topup::engine {

/// What a new order claims against the limits. `order_number` names the claim: one per order
/// number, so a claim made again (a retried call) counts once, and releasing one order's claim
/// never touches another's.
struct risk_claim {
  std::string mobile;
  std::int64_t merchant_id = 0;
  std::string order_number;
  std::int64_t amount_yuan = 0;  // face value
  std::int64_t now_ms = 0;
};

enum class risk_verdict { allowed, per_mobile_orders, per_mobile_amount, daily_amount };

/// The counters, shared by every instance. Two steps around the accept: claim (checked and
/// counted atomically per counter), then, if the accept did not take the order, release.
class risk_counters {
 public:
  virtual ~risk_counters() = default;
  /// Counts the claim, or refuses it (nothing counted) with the first rule it would break.
  virtual boost::asio::awaitable<boost::system::result<risk_verdict>> claim(risk_claim c) = 0;
  /// Takes back a claim whose order was not accepted; best effort (a failure leaves it counted,
  /// the safe side: the window ends it).
  virtual boost::asio::awaitable<void> release(risk_claim c) = 0;
};

/// The counters on Redis: per number the sorted set `<prefix>:risk:m:<mobile>` (its claims,
/// scored by time, expiring with the window), per merchant and business day the hash
/// `<prefix>:{m<id>}:risk:day:<YYYYMMDD>` (claims and their `#total`). Each check-and-count is
/// one small script on one key. Limits of 0 are not asked for at all.
class redis_risk_counters final : public risk_counters {
 public:
  redis_risk_counters(redis::connection& conn, std::string prefix, const config& cfg);
  /// Whether any counted rule is configured (else order_service skips both steps).
  static bool any_limit(const config& cfg) noexcept;

  boost::asio::awaitable<boost::system::result<risk_verdict>> claim(risk_claim c) override;
  boost::asio::awaitable<void> release(risk_claim c) override;

  /// The business day (YYYYMMDD) of `ms`, at the risk rules' UTC offset.
  std::string business_day(std::int64_t ms) const;

 private:
  std::int64_t daily_limit(std::int64_t merchant_id) const noexcept;
  std::string day_key(const risk_claim& c) const;
  boost::asio::awaitable<boost::system::result<risk_verdict>> claim_number(const risk_claim& c);
  boost::asio::awaitable<boost::system::result<risk_verdict>> claim_day(const risk_claim& c);

  redis::connection& conn_;
  std::string prefix_;
  const config& cfg_;
};

}  // namespace topup::engine
