#include "engine/dispatch/exception_rules.hpp"

#include <fmt/format.h>

#include "engine/dispatch/attempt_rules.hpp"

namespace topup::engine {

namespace {

const channel_config* configured_channel(const config& cfg, std::string_view id) noexcept {
  for (const auto& ch : cfg.channels)
    if (ch.id == id) return &ch;
  return nullptr;
}

}  // namespace

std::string_view exception_kind_name(exception_kind k) noexcept {
  switch (k) {
    case exception_kind::unresolved: return "unresolved";
    case exception_kind::callback_failed: return "callback_failed";
    case exception_kind::channel_removed: return "channel_removed";
    case exception_kind::overdue: return "overdue";
  }
  return "unresolved";
}

std::optional<exception_kind> parse_exception_kind(std::string_view name) noexcept {
  for (auto k : {exception_kind::unresolved, exception_kind::callback_failed,
                 exception_kind::channel_removed, exception_kind::overdue})
    if (exception_kind_name(k) == name) return k;
  return std::nullopt;
}

bool settleable(exception_kind k) noexcept { return k != exception_kind::callback_failed; }

std::int64_t waiting_deadline_ms(const order_record& o, const config& cfg) noexcept {
  // The dispatcher's own deadline (order_dispatcher::deadline_ms): the merchant's, else these.
  std::int64_t wait_s = o.recharge_type == 0 ? 86400 : 60;
  for (const auto& m : cfg.merchants)
    if (m.id == o.merchant_id) wait_s = o.recharge_type == 0 ? m.slow_deadline_s : m.fast_deadline_s;
  return o.created_at_ms + wait_s * 1000;
}

std::optional<exception_entry> classify_exception(const order_record& o, const config& cfg,
                                                  std::int64_t now_ms) {
  switch (o.status) {
    case order_status::success:
    case order_status::refunded:
      if (o.callback.status != callback_status::failed) return std::nullopt;
      return exception_entry{exception_kind::callback_failed, o.callback.last_at_ms,
                             fmt::format("callback not acknowledged after {} attempts",
                                         o.callback.attempts)};
    case order_status::matched:
    case order_status::recharging: {
      const auto* ch = configured_channel(cfg, o.attempt.channel);
      if (!ch)
        return exception_entry{exception_kind::channel_removed, o.attempt.since_ms(),
                               fmt::format("attempt {} is on channel '{}', which is not configured",
                                           o.attempt.id, o.attempt.channel)};
      if (o.status != order_status::recharging) return std::nullopt;
      const std::int64_t age_ms = now_ms - o.attempt.since_ms();
      if (!attempt_rules::overdue(age_ms, ch->unknown_max_s)) return std::nullopt;
      // Garbage answers are unknown outcomes too: the submit's word says how the push ended.
      return exception_entry{exception_kind::unresolved, o.attempt.since_ms(),
                             fmt::format("no final answer from channel {} for {} s (submit: {})",
                                         ch->id, age_ms / 1000,
                                         o.attempt.submit.empty() ? "-" : o.attempt.submit)};
    }
    case order_status::waiting: {
      const std::int64_t deadline = waiting_deadline_ms(o, cfg);
      if (now_ms < deadline + k_overdue_grace_ms) return std::nullopt;
      return exception_entry{exception_kind::overdue, deadline,
                             fmt::format("waiting {} s past its deadline, not refunded",
                                         (now_ms - deadline) / 1000)};
    }
    case order_status::pending_payment:
    case order_status::failed:
      return std::nullopt;
  }
  return std::nullopt;
}

settle_refusal settle_check(const order_record& o, const config& cfg, std::int64_t now_ms,
                            bool success) {
  if (is_terminal(o.status)) return settle_refusal::final_already;
  const auto listed = classify_exception(o, cfg, now_ms);
  if (!listed || !settleable(listed->kind)) return settle_refusal::not_listed;
  if (success && o.status == order_status::waiting) return settle_refusal::never_submitted;
  return settle_refusal::none;
}

}  // namespace topup::engine
