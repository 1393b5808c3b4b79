#pragma once
// Every request a run will send, built (and signed) before the clock starts, so the measured
// loop only copies bytes to sockets.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/topup_bench/merchant_roster.hpp"

namespace topup::bench {

/// What the pushOrder requests of a pool look like.
struct push_order_recipe {
  std::vector<bench_merchant> merchants;
  int recharge_type = 1;
  std::string notify_url;  ///< empty: no callback wanted
  /// Prefix of every order_no: "<run_tag>-<index>". Unique per run so that order numbers never
  /// collide, even against a Redis that was (wrongly) reused.
  std::string run_tag;
  /// 0: every request is signed with the time the pool is built. Otherwise request i carries the
  /// second it is due in an open-loop run starting at `paced_start_s` (Unix seconds) at
  /// `paced_rate_per_s`, so a run longer than topupd's `security.timestamp_skew_s` stays inside
  /// it (the soak's short retention needs a short skew: config check, docs/DECISIONS.md).
  double paced_start_s = 0;
  double paced_rate_per_s = 0;
};

/// A read-only arena of complete HTTP/1.1 requests (request line, headers, body), indexed from 0.
/// Built on the main thread, then shared read-only by the load threads.
class request_pool {
 public:
  /// `count` copies of one GET (e.g. /healthz): indexes are all the same bytes.
  static request_pool repeated_get(std::string_view target, std::string_view host_header,
                                   std::size_t count);
  /// `count` signed pushOrder requests with order_no "<run_tag>-<i>", spread round-robin over the
  /// merchants, the four carriers' number segments (138 cmcc, 186 cucc, 133 ctcc, 192 cbn) and
  /// the face values 10/20/30/50/100.
  static request_pool push_orders(const push_order_recipe& recipe, std::string_view host_header,
                                  std::size_t count);

  std::size_t size() const noexcept { return count_; }
  std::string_view request(std::size_t index) const noexcept;
  std::size_t bytes() const noexcept { return arena_.size(); }

  /// The index encoded in an order_no of this bench ("<tag>-<index>"); SIZE_MAX if malformed.
  static std::size_t index_of_order_no(std::string_view order_no) noexcept;

 private:
  std::string arena_;
  std::vector<std::uint64_t> offsets_;  // offsets_[i]..offsets_[i + 1]; one entry when repeated
  std::size_t count_ = 0;
  bool repeated_ = false;
};

}  // namespace topup::bench
