#include "bench/topup_bench/request_pool.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>

#include "engine/config/sign_method.hpp"
#include "protocol/form.hpp"
#include "protocol/signing.hpp"

namespace topup::bench {

namespace {

constexpr std::array<std::string_view, 4> k_segments = {"138", "186", "133", "192"};
constexpr std::array<int, 5> k_amounts_yuan = {10, 20, 30, 50, 100};

std::string mobile_for(std::size_t i, std::size_t merchants) {
  const std::size_t round = i / merchants;
  char digits[16];
  std::snprintf(digits, sizeof digits, "%08zu", (round * 7919 + i) % 100000000);
  return std::string(k_segments[round % k_segments.size()]) + digits;
}

}  // namespace

request_pool request_pool::repeated_get(std::string_view target, std::string_view host_header,
                                        std::size_t count) {
  request_pool pool;
  pool.arena_ =
      "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + std::string(host_header) + "\r\n\r\n";
  pool.offsets_ = {0, pool.arena_.size()};
  pool.count_ = count;
  pool.repeated_ = true;
  return pool;
}

request_pool request_pool::push_orders(const push_order_recipe& recipe,
                                       std::string_view host_header, std::size_t count) {
  request_pool pool;
  pool.count_ = count;
  pool.offsets_.reserve(count + 1);
  pool.arena_.reserve(count * (recipe.notify_url.empty() ? 330 : 390));
  const bool paced = recipe.paced_start_s > 0 && recipe.paced_rate_per_s > 0;
  const std::string built_at =
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
  const std::string head =
      "POST /rest/Recharge/pushOrder HTTP/1.1\r\nHost: " + std::string(host_header) +
      "\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: ";
  const std::size_t merchants = recipe.merchants.size();
  for (std::size_t i = 0; i < count; ++i) {
    const bench_merchant& m = recipe.merchants[i % merchants];
    protocol::form_params params;
    params.reserve(10);
    params.insert("app_key", m.app_key);
    params.insert("store_id", m.store_id);
    params.insert("mobile", mobile_for(i, merchants));
    params.insert("money",
                  std::to_string(k_amounts_yuan[(i / merchants / 4) % k_amounts_yuan.size()]));
    params.insert("order_no", recipe.run_tag + "-" + std::to_string(i));
    params.insert("recharge_type", std::to_string(recipe.recharge_type));
    if (!recipe.notify_url.empty()) params.insert("notify_url", recipe.notify_url);
    params.insert("timestamp",
                  paced ? std::to_string(static_cast<long long>(
                              recipe.paced_start_s + static_cast<double>(i) / recipe.paced_rate_per_s))
                        : built_at);
    params.insert("sign", protocol::sign_params(params, engine::sign_method::md5, m.app_secret));
    const std::string body = protocol::form_encode(params);
    pool.offsets_.push_back(pool.arena_.size());
    pool.arena_ += head;
    pool.arena_ += std::to_string(body.size());
    pool.arena_ += "\r\n\r\n";
    pool.arena_ += body;
  }
  pool.offsets_.push_back(pool.arena_.size());
  return pool;
}

std::string_view request_pool::request(std::size_t index) const noexcept {
  const std::size_t slot = repeated_ ? 0 : index;
  return std::string_view(arena_).substr(offsets_[slot], offsets_[slot + 1] - offsets_[slot]);
}

std::size_t request_pool::index_of_order_no(std::string_view order_no) noexcept {
  const std::size_t dash = order_no.rfind('-');
  if (dash == std::string_view::npos) return std::numeric_limits<std::size_t>::max();
  std::size_t index = 0;
  const auto digits = order_no.substr(dash + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc{} || end != digits.data() + digits.size()) {
    return std::numeric_limits<std::size_t>::max();
  }
  return index;
}

}  // namespace topup::bench
