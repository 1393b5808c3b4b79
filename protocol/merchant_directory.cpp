#include "protocol/merchant_directory.hpp"

namespace topup::protocol {

namespace asio = boost::asio;

merchant_directory::merchant_directory(const std::vector<engine::merchant_config>& merchants) {
  for (const auto& m : merchants) {
    if (m.enabled) by_key_.emplace(m.app_key, &m);
    by_id_.emplace(m.id, &m);
    if (m.allowed_ips.empty()) continue;
    auto& nets = allowed_[m.id];
    for (const auto& text : m.allowed_ips) {
      // The config validator accepted these; a plain address is a /32 or /128 network.
      boost::system::error_code ec;
      if (text.find('/') == std::string::npos) {
        auto addr = asio::ip::make_address(text, ec);
        if (ec) continue;
        if (addr.is_v4()) nets.v4.emplace_back(addr.to_v4(), 32);
        else nets.v6.emplace_back(addr.to_v6(), 128);
      } else if (text.find(':') == std::string::npos) {
        auto net = asio::ip::make_network_v4(text, ec);
        if (!ec) nets.v4.push_back(net);
      } else {
        auto net = asio::ip::make_network_v6(text, ec);
        if (!ec) nets.v6.push_back(net);
      }
    }
  }
}

const engine::merchant_config* merchant_directory::by_app_key(std::string_view app_key) const {
  auto it = by_key_.find(std::string(app_key));
  return it == by_key_.end() ? nullptr : it->second;
}

const engine::merchant_config* merchant_directory::by_id(std::int64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

bool merchant_directory::ip_allowed(const engine::merchant_config& merchant,
                                    const asio::ip::address& remote) const {
  if (merchant.allowed_ips.empty()) return true;
  auto it = allowed_.find(merchant.id);
  if (it == allowed_.end()) return false;
  auto addr = remote;
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  if (addr.is_v4()) {
    for (const auto& net : it->second.v4)
      if ((asio::ip::network_v4(addr.to_v4(), net.prefix_length()).canonical()) == net.canonical())
        return true;
  } else {
    for (const auto& net : it->second.v6)
      if ((asio::ip::network_v6(addr.to_v6(), net.prefix_length()).canonical()) == net.canonical())
        return true;
  }
  return false;
}

}  // namespace topup::protocol
