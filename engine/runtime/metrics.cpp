#include "engine/runtime/metrics.hpp"

#include <fmt/format.h>

namespace topup::engine {

namespace {
constexpr std::array<std::string_view, 7> k_outcomes = {
    "accepted", "refused", "succeeded", "failed", "pending", "not_found", "unknown"};

std::uint64_t load(const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); }
std::int64_t load(const std::atomic<std::int64_t>& a) { return a.load(std::memory_order_relaxed); }
}  // namespace

void latency_histogram::observe(std::chrono::microseconds d) noexcept {
  const double ms = static_cast<double>(d.count()) / 1000.0;
  std::size_t i = 0;
  while (i < k_bounds_ms.size() && ms > k_bounds_ms[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(d.count() > 0 ? d.count() : 0),
                    std::memory_order_relaxed);
}

void latency_histogram::add_to(std::array<std::uint64_t, k_bounds_ms.size() + 1>& buckets,
                               std::uint64_t& count, std::uint64_t& sum_us) const noexcept {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += load(buckets_[i]);
  count += load(count_);
  sum_us += load(sum_us_);
}

namespace {

void render_histogram(std::string& out, const std::string& name, const std::string& labels,
                      const std::array<std::uint64_t, latency_histogram::k_bounds_ms.size() + 1>& b,
                      std::uint64_t count, std::uint64_t sum_us) {
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_histogram::k_bounds_ms.size(); ++i) {
    cumulative += b[i];
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep,
                       latency_histogram::k_bounds_ms[i] / 1000.0, cumulative);
  }
  cumulative += b.back();
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  const std::string l = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, l, static_cast<double>(sum_us) / 1e6,
                     name, l, count);
}

}  // namespace

void latency_histogram::render(std::string& out, const std::string& name,
                               const std::string& labels) const {
  std::array<std::uint64_t, k_bounds_ms.size() + 1> b{};
  std::uint64_t count = 0, sum = 0;
  add_to(b, count, sum);
  render_histogram(out, name, labels, b, count, sum);
}

shard_metrics::shard_metrics(std::size_t channel_count) {
  for (std::size_t i = 0; i < channel_count; ++i) channels.push_back(std::make_unique<channel_metrics>());
}

metrics_registry::metrics_registry(unsigned shard_count, const std::vector<channel_config>& channels) {
  for (const auto& c : channels) {
    channel_ids_.push_back(c.id);
    channel_max_inflight_.push_back(c.max_inflight);
  }
  for (unsigned i = 0; i < shard_count; ++i)
    shards_.push_back(std::make_unique<shard_metrics>(channels.size()));
}

int metrics_registry::channel_index(std::string_view id) const {
  for (std::size_t i = 0; i < channel_ids_.size(); ++i)
    if (channel_ids_[i] == id) return static_cast<int>(i);
  return -1;
}

metrics_snapshot metrics_registry::snapshot() const {
  metrics_snapshot out;
  for (const auto& s : shards_) {
    out.orders_accepted += load(s->orders_accepted);
    out.orders_duplicate += load(s->orders_duplicate);
    out.orders_refused += load(s->orders_refused);
    for (std::size_t i = 0; i < out.intake_errors.size(); ++i)
      out.intake_errors[i] += load(s->intake_errors[i]);
    out.orders_succeeded += load(s->orders_finished[2]);
    out.orders_refunded += load(s->orders_finished[4]);
    out.orders_in_flight += load(s->orders_in_flight);
    out.callbacks_delivered += load(s->callbacks_delivered);
    out.callbacks_given_up += load(s->callbacks_given_up);
    out.callbacks_in_flight += load(s->callbacks_in_flight);
  }
  out.callbacks_owed = load(instance_.callbacks_owed);
  out.callbacks_due = load(instance_.callbacks_due);
  for (std::size_t k = 0; k < out.exceptions.size(); ++k) out.exceptions[k] = load(instance_.exceptions[k]);
  out.lease_held = load(instance_.lease_held) != 0;
  for (std::size_t c = 0; c < channel_ids_.size(); ++c) {
    metrics_snapshot::channel_figures ch;
    ch.id = channel_ids_[c];
    ch.max_inflight = channel_max_inflight_[c];
    for (const auto& s : shards_) {
      const auto& m = *s->channels[c];
      ch.in_flight += load(m.health.in_flight);
      ch.breaker_open_shards += load(m.health.breaker_open) != 0 ? 1 : 0;
      ch.submits += load(m.submits);
      for (std::size_t o = 0; o < ch.outcomes.size(); ++o) ch.outcomes[o] += load(m.outcomes[o]);
    }
    out.channels.push_back(std::move(ch));
  }
  return out;
}

std::string metrics_registry::render() const {
  std::string out;
  out.reserve(8192);
  const metrics_snapshot now = snapshot();
  auto sum = [&](auto member) {
    std::uint64_t total = 0;
    for (const auto& s : shards_) total += load((*s).*member);
    return total;
  };
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
  };
  auto gauge = [&](std::string_view name, std::string_view help, std::int64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
  };
  auto header = [&](std::string_view name, std::string_view help, std::string_view type) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  counter("topup_orders_accepted_total", "Orders accepted (0000 on a new order).",
          now.orders_accepted);
  counter("topup_orders_duplicate_total", "Idempotent repeats answered with the earlier order.",
          now.orders_duplicate);
  counter("topup_orders_archived_total",
          "Final orders written to the archive and removed from Redis (storage.retention_*).",
          sum(&shard_metrics::orders_archived));
  counter("topup_statements_made_total", "Daily statement files made (statements.dir).",
          sum(&shard_metrics::statements_made));
  counter("topup_statements_failed_total",
          "Statement passes stopped because a day's data did not add up or a file failed "
          "(logged; that merchant's statements wait for a person).",
          sum(&shard_metrics::statements_failed));
  counter("topup_log_entries_trimmed_total",
          "Merchant log entries written to the log files and trimmed from Redis behind the "
          "checkpoint (retention).",
          sum(&shard_metrics::log_entries_trimmed));
  counter("topup_orders_refused_total", "pushOrder calls refused with a business code.",
          now.orders_refused);
  header("topup_intake_errors_total",
         "pushOrder answers that are topupd's failure (5000, 5002, 1008, 5001), by reason.",
         "counter");
  for (std::size_t r = 0; r < k_intake_error_reasons.size(); ++r)
    out += fmt::format("topup_intake_errors_total{{reason=\"{}\"}} {}\n", k_intake_error_reasons[r],
                       now.intake_errors[r]);
  out += "# HELP topup_risk_refusals_total Orders refused by risk control (2008), by rule.\n"
         "# TYPE topup_risk_refusals_total counter\n";
  for (std::size_t rule = 0; rule < k_risk_rules.size(); ++rule) {
    std::uint64_t total = 0;
    for (const auto& s : shards_) total += load(s->risk_refusals[rule]);
    out += fmt::format("topup_risk_refusals_total{{rule=\"{}\"}} {}\n", k_risk_rules[rule], total);
  }
  out += "# HELP topup_orders_finished_total Orders that reached a final status.\n"
         "# TYPE topup_orders_finished_total counter\n";
  for (int status : {2, 4}) {
    std::uint64_t total = 0;
    for (const auto& s : shards_) total += load(s->orders_finished[static_cast<std::size_t>(status)]);
    out += fmt::format("topup_orders_finished_total{{status=\"{}\"}} {}\n", status, total);
  }
  out += "# HELP topup_orders_in_flight Orders being driven to a final status, per shard.\n"
         "# TYPE topup_orders_in_flight gauge\n";
  for (std::size_t i = 0; i < shards_.size(); ++i)
    out += fmt::format("topup_orders_in_flight{{shard=\"{}\"}} {}\n", i,
                       shards_[i]->orders_in_flight.load(std::memory_order_relaxed));

  out += "# HELP topup_channel_attempt_outcomes_total Channel answers by outcome.\n"
         "# TYPE topup_channel_attempt_outcomes_total counter\n";
  for (std::size_t c = 0; c < channel_ids_.size(); ++c)
    for (std::size_t o = 0; o < k_outcomes.size(); ++o) {
      std::uint64_t total = 0;
      for (const auto& s : shards_) total += load(s->channels[c]->outcomes[o]);
      out += fmt::format("topup_channel_attempt_outcomes_total{{channel=\"{}\",outcome=\"{}\"}} {}\n",
                         channel_ids_[c], k_outcomes[o], total);
    }
  out += "# HELP topup_channel_submits_total Submissions sent to each channel.\n"
         "# TYPE topup_channel_submits_total counter\n";
  for (std::size_t c = 0; c < channel_ids_.size(); ++c) {
    std::uint64_t total = 0;
    for (const auto& s : shards_) total += load(s->channels[c]->submits);
    out += fmt::format("topup_channel_submits_total{{channel=\"{}\"}} {}\n", channel_ids_[c], total);
  }
  out += "# HELP topup_channel_submit_seconds Submit latency per channel.\n"
         "# TYPE topup_channel_submit_seconds histogram\n";
  for (std::size_t c = 0; c < channel_ids_.size(); ++c) {
    std::array<std::uint64_t, latency_histogram::k_bounds_ms.size() + 1> b{};
    std::uint64_t count = 0, sum_us = 0;
    for (const auto& s : shards_) s->channels[c]->submit_latency.add_to(b, count, sum_us);
    render_histogram(out, "topup_channel_submit_seconds",
                     fmt::format("channel=\"{}\"", channel_ids_[c]), b, count, sum_us);
  }
  header("topup_channel_in_flight", "Attempts on each channel now (submitted, not yet settled).",
         "gauge");
  for (const auto& ch : now.channels)
    out += fmt::format("topup_channel_in_flight{{channel=\"{}\"}} {}\n", ch.id, ch.in_flight);
  header("topup_channel_max_inflight", "Each channel's configured max_inflight (all shards).",
         "gauge");
  for (const auto& ch : now.channels)
    out += fmt::format("topup_channel_max_inflight{{channel=\"{}\"}} {}\n", ch.id, ch.max_inflight);
  header("topup_channel_breaker_open",
         "1 while the channel's circuit breaker on the shard is tripped (open or half-open).",
         "gauge");
  for (std::size_t c = 0; c < channel_ids_.size(); ++c)
    for (std::size_t i = 0; i < shards_.size(); ++i)
      out += fmt::format("topup_channel_breaker_open{{channel=\"{}\",shard=\"{}\"}} {}\n",
                         channel_ids_[c], i, load(shards_[i]->channels[c]->health.breaker_open));

  counter("topup_callbacks_delivered_total", "Merchant callbacks acknowledged with success.",
          now.callbacks_delivered);
  counter("topup_callbacks_failed_attempts_total", "Callback deliveries not acknowledged.",
          sum(&shard_metrics::callbacks_failed_attempts));
  counter("topup_callbacks_given_up_total", "Callbacks abandoned after max_attempts.",
          now.callbacks_given_up);
  out += "# HELP topup_callbacks_in_flight Callback deliveries running now, per shard.\n"
         "# TYPE topup_callbacks_in_flight gauge\n";
  for (std::size_t i = 0; i < shards_.size(); ++i)
    out += fmt::format("topup_callbacks_in_flight{{shard=\"{}\"}} {}\n", i,
                       shards_[i]->callbacks_in_flight.load(std::memory_order_relaxed));

  out += "# HELP topup_redis_command_seconds Redis round-trip latency of store operations.\n"
         "# TYPE topup_redis_command_seconds histogram\n";
  std::array<std::uint64_t, latency_histogram::k_bounds_ms.size() + 1> b{};
  std::uint64_t count = 0, sum_us = 0;
  for (const auto& s : shards_) s->redis_latency.add_to(b, count, sum_us);
  render_histogram(out, "topup_redis_command_seconds", "", b, count, sum_us);

  gauge("topup_callbacks_owed",
        "Final orders whose merchant callback is still pending (sampled every few seconds).",
        now.callbacks_owed);
  gauge("topup_callbacks_due",
        "Pending callbacks already due at the last sample: the delivery backlog.",
        now.callbacks_due);
  header("topup_exception_queue_size",
         "Orders in the exception queue (GET /admin/exceptions), by kind (sampled).", "gauge");
  for (std::size_t k = 0; k < now.exceptions.size(); ++k)
    out += fmt::format("topup_exception_queue_size{{kind=\"{}\"}} {}\n",
                       exception_kind_name(static_cast<exception_kind>(k)), now.exceptions[k]);
  gauge("topup_lease_held", "1 while this topupd holds its instance's lease in Redis.",
        now.lease_held ? 1 : 0);
  return out;
}

}  // namespace topup::engine
