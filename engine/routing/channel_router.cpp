#include "engine/routing/channel_router.hpp"

#include <algorithm>
#include <charconv>

namespace topup::engine {

namespace {

/// A channel's in-flight bound shared out over `parts` (shards, times instances), rounding up.
std::uint32_t share_of(std::uint32_t max_inflight, unsigned parts) {
  return static_cast<std::uint32_t>((max_inflight + parts - 1) / parts);
}

}  // namespace

channel_router::channel_router(const std::vector<channel_config>& configs,
                               channel_catalogue& catalogue,
                               const channel_adapter_factory& factory,
                               boost::asio::io_context& io, unsigned shard_count)
    : catalogue_(catalogue), shard_count_(shard_count ? shard_count : 1) {
  channels_.reserve(configs.size());
  for (const auto& cfg : configs)
    channels_.push_back(channel{&cfg, factory ? factory(cfg, io) : nullptr,
                                channel_health(share_of(cfg.max_inflight, shard_count_))});
  std::stable_sort(channels_.begin(), channels_.end(), [](const channel& a, const channel& b) {
    if (a.config->cost_rate_ppm != b.config->cost_rate_ppm)
      return a.config->cost_rate_ppm < b.config->cost_rate_ppm;
    return a.config->priority > b.config->priority;
  });
}

void channel_router::share_among_instances(unsigned instances) {
  const unsigned parts = shard_count_ * (instances ? instances : 1);
  for (auto& ch : channels_) ch.health.set_max_inflight(share_of(ch.config->max_inflight, parts));
}

channel_router::pick_result channel_router::pick(const order_record& order,
                                                 const std::vector<std::string>& tried,
                                                 channel_health::clock::time_point now) {
  bool any_could_serve = false;
  for (std::size_t i = 0; i < channels_.size();) {
    // Group of equal (cost, priority): spread among its available members.
    std::size_t j = i;
    while (j < channels_.size() &&
           channels_[j].config->cost_rate_ppm == channels_[i].config->cost_rate_ppm &&
           channels_[j].config->priority == channels_[i].config->priority)
      ++j;
    std::vector<channel*> available;
    for (std::size_t k = i; k < j; ++k) {
      auto& ch = channels_[k];
      const auto& cfg = *ch.config;
      if (!ch.adapter) continue;
      if (!order.source.empty() && cfg.id != order.source) continue;
      if (order.sandbox && !cfg.simulated()) continue;  // a sandbox order never reaches a supplier
      if (std::ranges::find(tried, cfg.id) != tried.end()) continue;
      const auto service = catalogue_.channel_service(cfg.id, order.carrier, order.money_yuan,
                                                      order.recharge_type);
      if (service == channel_catalogue::service::never) continue;
      // A disabled channel may be enabled again before the order's deadline: the order waits
      // for it (spec §7) instead of being refunded at once.
      any_could_serve = true;
      if (service == channel_catalogue::service::serves && ch.health.available(now))
        available.push_back(&ch);
    }
    if (!available.empty()) return {verdict::chosen, available[round_robin_++ % available.size()]};
    i = j;
  }
  return {any_could_serve ? verdict::busy : verdict::exhausted, nullptr};
}

channel_router::channel* channel_router::find(std::string_view id) {
  for (auto& ch : channels_)
    if (ch.config->id == id) return &ch;
  return nullptr;
}

void channel_router::close_all() {
  for (auto& ch : channels_)
    if (ch.adapter) ch.adapter->close();
}

std::string attempt_channel(const order_record& order, std::string_view attempt_id) {
  const auto dash = attempt_id.rfind('-');
  if (dash == std::string_view::npos || attempt_id.substr(0, dash) != order.order_number)
    return {};
  const std::string_view digits = attempt_id.substr(dash + 1);
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || end != digits.data() + digits.size() || n == 0) return {};
  const auto& tried = order.attempt.tried;
  return n <= tried.size() ? tried[n - 1] : std::string();
}

}  // namespace topup::engine
