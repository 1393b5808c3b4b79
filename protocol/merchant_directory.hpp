#pragma once
// Lookup of merchants by app_key and id, with their parsed IP allow-lists.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/config/config.hpp"

namespace topup::protocol {

/// Read-only index over the configured merchants, built once per shard at start-up (no sharing
/// between shards, no locks).
class merchant_directory {
 public:
  explicit merchant_directory(const std::vector<engine::merchant_config>& merchants);

  /// The enabled merchant with this app_key, or nullptr.
  const engine::merchant_config* by_app_key(std::string_view app_key) const;
  /// The merchant with this id (enabled or not), or nullptr.
  const engine::merchant_config* by_id(std::int64_t id) const;
  /// Whether `remote` may call as this merchant (an empty allow-list allows everyone).
  bool ip_allowed(const engine::merchant_config& merchant,
                  const boost::asio::ip::address& remote) const;

 private:
  struct networks {
    std::vector<boost::asio::ip::network_v4> v4;
    std::vector<boost::asio::ip::network_v6> v6;
  };
  std::unordered_map<std::string, const engine::merchant_config*> by_key_;
  std::unordered_map<std::int64_t, const engine::merchant_config*> by_id_;
  std::unordered_map<std::int64_t, networks> allowed_;
};

}  // namespace topup::protocol
