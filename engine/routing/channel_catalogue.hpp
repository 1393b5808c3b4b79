#pragma once
// What the configured channels can serve, for validating orders before they are accepted.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/order/carrier.hpp"
#include "engine/config/config.hpp"

namespace topup::engine {

/// The static capabilities of every configured channel (carrier, amount, recharge type) plus
/// its enabled flag. One copy per shard (no sharing); admin enable/disable is applied to every
/// shard's copy through invoke_on.
class channel_catalogue {
 public:
  explicit channel_catalogue(const std::vector<channel_config>& channels);

  /// Some enabled channel serves this face value for any carrier (else 2002).
  bool amount_served(std::int64_t money_yuan) const;
  /// Some enabled channel (or exactly `source`, when non-empty) serves this order (else 2005);
  /// with `simulated_only` (a sandbox merchant's order) only a simulated channel counts.
  bool order_served(carrier c, std::int64_t money_yuan, int recharge_type, std::string_view source,
                    bool simulated_only = false) const;
  /// Face values served for a carrier by enabled channels (simulated ones only, with
  /// `simulated_only`), ascending, without duplicates.
  std::vector<std::int64_t> amounts_for(carrier c, bool simulated_only = false) const;
  /// Returns false if no channel has this id.
  bool set_enabled(std::string_view channel_id, bool enabled);
  bool exists(std::string_view channel_id) const;
  /// Whether an operator left this channel in routing; false also when no channel has this id.
  bool enabled(std::string_view channel_id) const;
  /// Whether a channel can take an order for this carrier, amount and recharge type.
  enum class service {
    never,     // no such channel, or it is not configured for that
    disabled,  // configured for it, but an operator took it out of routing (for now)
    serves,    // configured for it and enabled
  };
  service channel_service(std::string_view channel_id, carrier c, std::int64_t money_yuan,
                          int recharge_type) const;

 private:
  struct entry {
    const channel_config* config;
    bool enabled;
  };
  /// Configured for it, enabled or not.
  static bool configured_for(const entry& e, carrier c, std::int64_t money_yuan,
                             int recharge_type);
  std::vector<entry> entries_;
};

}  // namespace topup::engine
