#pragma once
// The engine's cross-shard seams for tests that build one shard's services without a runtime:
// each records what it was asked, in order, so a test can check what reached "the other shards".
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/service/callback_kicker.hpp"
#include "engine/service/channel_switchboard.hpp"
#include "engine/service/order_settler.hpp"

namespace topup::test {

/// Records each kick (order number, merchant id).
class recording_kicker final : public engine::callback_kicker {
 public:
  void kick(std::string order_number, std::int64_t merchant_id) override {
    kicks.emplace_back(std::move(order_number), merchant_id);
  }
  std::vector<std::pair<std::string, std::int64_t>> kicks;
};

/// Records each switch (channel id, enabled).
class recording_switchboard final : public engine::channel_switchboard {
 public:
  void set_enabled_everywhere(std::string channel_id, bool enabled) override {
    switches.emplace_back(std::move(channel_id), enabled);
  }
  std::vector<std::pair<std::string, bool>> switches;
};

/// Records each settlement asked (order number, settlement) and refuses it (not_listed): a test
/// of settling itself builds a dispatcher (tests/integration/settle_test).
class recording_settler final : public engine::order_settler {
 public:
  boost::asio::awaitable<boost::system::result<engine::settle_outcome>> settle_on_owner(
      std::string order_number, engine::manual_settlement s) override {
    settles.emplace_back(std::move(order_number), std::move(s));
    engine::settle_outcome out;
    out.refused = engine::settle_refusal::not_listed;
    co_return out;
  }
  std::vector<std::pair<std::string, engine::manual_settlement>> settles;
};

}  // namespace topup::test
