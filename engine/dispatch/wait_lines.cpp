#include "engine/dispatch/wait_lines.hpp"

#include <algorithm>

#include "engine/order/carrier.hpp"
#include "engine/routing/channel_router.hpp"

namespace topup::engine {

namespace {

/// Orders with equal keys get the same answer from channel_router::pick.
std::string line_key(const order_record& o, const std::vector<std::string>& tried) {
  std::string key;
  key.reserve(64);
  key.append(carrier_code(o.carrier)).push_back('|');
  key.append(std::to_string(o.money_yuan)).push_back('|');
  key.append(std::to_string(o.recharge_type)).push_back('|');
  key.append(o.source).push_back('|');
  key.append(join_ids(tried));
  return key;
}

}  // namespace

void wait_lines::park(const order_record& o, std::vector<std::string> tried,
                      std::int64_t deadline_ms) {
  auto [at, added] = line_index_.try_emplace(line_key(o, tried), lines_.size());
  if (added) {
    auto l = std::make_unique<line>();
    l->routing.sample.carrier = o.carrier;
    l->routing.sample.money_yuan = o.money_yuan;
    l->routing.sample.recharge_type = o.recharge_type;
    l->routing.sample.source = o.source;
    l->routing.tried = std::move(tried);
    lines_.push_back(std::move(l));
  }
  parked_.insert_or_assign(o.order_number, entry{o.merchant_id, deadline_ms, at->second});
  next_deadline_ms_ = std::min(next_deadline_ms_, deadline_ms);
  lines_[at->second]->queue.push_back(o.order_number);
}

bool wait_lines::queue_ahead(const order_record& o, const std::vector<std::string>& tried) const {
  if (parked_.empty()) return false;
  auto at = line_index_.find(line_key(o, tried));
  return at != line_index_.end() && !lines_[at->second]->queue.empty();
}

bool wait_lines::contains(std::string_view order_number) const {
  return parked_.find(order_number) != parked_.end();
}

std::vector<wait_lines::parked> wait_lines::take_expired(std::int64_t now_ms) {
  std::vector<parked> expired;
  if (now_ms < next_deadline_ms_) return expired;
  if (last_deadline_scan_ms_ && now_ms - *last_deadline_scan_ms_ < 1000) return expired;
  last_deadline_scan_ms_ = now_ms;
  next_deadline_ms_ = std::numeric_limits<std::int64_t>::max();
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (it->second.deadline_ms > now_ms) {
      next_deadline_ms_ = std::min(next_deadline_ms_, it->second.deadline_ms);
      ++it;
      continue;
    }
    expired.push_back(parked{it->first, it->second.merchant_id});
    it = parked_.erase(it);
  }
  return expired;
}

}  // namespace topup::engine
