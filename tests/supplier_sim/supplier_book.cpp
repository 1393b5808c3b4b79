#include "tests/supplier_sim/supplier_book.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <utility>

namespace topup::supplier_sim {

namespace {

struct mode_entry {
  sim_mode mode;
  std::string_view name;
};

constexpr std::array<mode_entry, 15> k_modes = {{
    {sim_mode::succeed, "succeed"},
    {sim_mode::fail, "fail"},
    {sim_mode::refuse, "refuse"},
    {sim_mode::timeout_placed, "timeout_placed"},
    {sim_mode::no_callback, "no_callback"},
    {sim_mode::malformed, "malformed"},
    {sim_mode::http500, "http500"},
    {sim_mode::duplicate_callback, "duplicate_callback"},
    {sim_mode::forged_callback, "forged_callback"},
    {sim_mode::slow, "slow"},
    {sim_mode::timeout_lost, "timeout_lost"},
    {sim_mode::http500_placed, "http500_placed"},
    {sim_mode::bad_json, "bad_json"},
    {sim_mode::forged_success, "forged_success"},
    {sim_mode::charging_callback, "charging_callback"},
}};

bool same_business_parameters(const placed_order& a, const placed_order& b) {
  return a.store_id == b.store_id && a.mobile == b.mobile && a.money_yuan == b.money_yuan &&
         a.recharge_type == b.recharge_type && a.notify_url == b.notify_url;
}

}  // namespace

bool places_order(sim_mode mode) {
  return mode != sim_mode::refuse && mode != sim_mode::http500 && mode != sim_mode::timeout_lost &&
         mode != sim_mode::bad_json;
}

std::optional<sim_mode> mode_from_name(std::string_view name) {
  for (const auto& entry : k_modes)
    if (entry.name == name) return entry.mode;
  return std::nullopt;
}

std::string_view mode_name(sim_mode mode) {
  for (const auto& entry : k_modes)
    if (entry.mode == mode) return entry.name;
  return "?";
}

std::string mode_names() {
  std::string out;
  for (const auto& entry : k_modes) {
    if (!out.empty()) out += ", ";
    out += entry.name;
  }
  return out;
}

supplier_book::place_result supplier_book::place(placed_order order, std::int64_t now_ms) {
  if (auto existing = by_order_no_.find(order.order_no); existing != by_order_no_.end()) {
    if (!same_business_parameters(existing->second, order)) return {place_verdict::conflict};
    return {place_verdict::repeat, &existing->second};
  }
  if (by_order_no_.size() >= k_orders_max) return {place_verdict::full};
  order.order_number = number_prefix_ + std::to_string(next_sequence_++);
  order.status = 1;
  order.created_at_s = now_ms / 1000;
  order.finished_at_s = 0;
  order.pushed_at_ms = now_ms;
  order.finished_at_ms = 0;
  order_no_by_number_.emplace(order.order_number, order.order_no);
  auto [it, inserted] = by_order_no_.emplace(order.order_no, std::move(order));
  ++placed_;
  return {place_verdict::placed, &it->second};
}

void supplier_book::note_unplaced(std::string order_no, sim_mode mode, std::int64_t now_ms) {
  if (unplaced_.size() >= k_orders_max) return;
  unplaced_.push_back({std::move(order_no), mode, now_ms});
}

placed_order* supplier_book::find_by_order_no(std::string_view order_no) {
  auto it = by_order_no_.find(std::string(order_no));
  return it == by_order_no_.end() ? nullptr : &it->second;
}

placed_order* supplier_book::find_by_order_number(std::string_view order_number) {
  auto it = order_no_by_number_.find(std::string(order_number));
  return it == order_no_by_number_.end() ? nullptr : find_by_order_no(it->second);
}

bool supplier_book::finish(placed_order& order, bool delivered, std::int64_t now_ms) {
  if (order.status != 1) return false;
  order.finished_at_s = now_ms / 1000;
  order.finished_at_ms = now_ms;
  if (delivered) {
    order.status = 2;
    ++delivered_;
    ++deliveries_[order.order_no];
    ++by_order_[base_order_number(order.order_no)];
  } else {
    // A supplier following spec §4 refunds a failed order at once: 3 is transient, 4 is final.
    order.status = 4;
    order.reason = "simulated failure";
  }
  return true;
}

std::string supplier_book::stats_json(std::string_view current_mode) const {
  boost::json::object deliveries;
  for (const auto& [order_no, count] : deliveries_) deliveries[order_no] = count;
  boost::json::object by_order;
  for (const auto& [number, count] : by_order_) by_order[number] = count;
  boost::json::object stats;
  stats["placed"] = placed_;
  stats["delivered"] = delivered_;
  stats["deliveries"] = std::move(deliveries);
  stats["by_order"] = std::move(by_order);
  stats["callbacks_sent"] = callbacks_sent_;
  stats["callback_acks"] = callback_acks_;
  stats["mode"] = current_mode;
  return boost::json::serialize(stats);
}

std::string supplier_book::orders_json() const {
  boost::json::array list;
  list.reserve(by_order_no_.size() + unplaced_.size());
  for (const auto& [order_no, order] : by_order_no_) {
    list.push_back(boost::json::object{{"order_no", order_no},
                                       {"order_number", base_order_number(order_no)},
                                       {"mode", mode_name(order.mode)},
                                       {"placed", true},
                                       {"status", order.status},
                                       {"pushed_at_ms", order.pushed_at_ms},
                                       {"finished_at_ms", order.finished_at_ms}});
  }
  for (const auto& push : unplaced_) {
    list.push_back(boost::json::object{{"order_no", push.order_no},
                                       {"order_number", base_order_number(push.order_no)},
                                       {"mode", mode_name(push.mode)},
                                       {"placed", false},
                                       {"status", 0},
                                       {"pushed_at_ms", push.pushed_at_ms},
                                       {"finished_at_ms", 0}});
  }
  return boost::json::serialize(boost::json::object{{"orders", std::move(list)}});
}

std::string supplier_book::base_order_number(std::string_view order_no) {
  const auto dash = order_no.rfind('-');
  if (dash == std::string_view::npos || dash + 1 == order_no.size()) return std::string(order_no);
  for (std::size_t i = dash + 1; i < order_no.size(); ++i)
    if (order_no[i] < '0' || order_no[i] > '9') return std::string(order_no);
  return std::string(order_no.substr(0, dash));
}

}  // namespace topup::supplier_sim
