#include "engine/runtime/metrics.hpp"

#include <fmt/format.h>

namespace topup::engine {

namespace {
constexpr std::array<std::string_view, 7> k_outcomes = {
    "accepted", "refused", "succeeded", "failed", "pending", "not_found", "unknown"};

std::uint64_t load(const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); }
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
  for (const auto& c : channels) channel_ids_.push_back(c.id);
  for (unsigned i = 0; i < shard_count; ++i)
    shards_.push_back(std::make_unique<shard_metrics>(channels.size()));
}

int metrics_registry::channel_index(std::string_view id) const {
  for (std::size_t i = 0; i < channel_ids_.size(); ++i)
    if (channel_ids_[i] == id) return static_cast<int>(i);
  return -1;
}

std::string metrics_registry::render() const {
  std::string out;
  out.reserve(8192);
  auto sum = [&](auto member) {
    std::uint64_t total = 0;
    for (const auto& s : shards_) total += load((*s).*member);
    return total;
  };
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
  };
  counter("topup_orders_accepted_total", "Orders accepted (0000 on a new order).",
          sum(&shard_metrics::orders_accepted));
  counter("topup_orders_duplicate_total", "Idempotent repeats answered with the earlier order.",
          sum(&shard_metrics::orders_duplicate));
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
          sum(&shard_metrics::orders_refused));
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

  counter("topup_callbacks_delivered_total", "Merchant callbacks acknowledged with success.",
          sum(&shard_metrics::callbacks_delivered));
  counter("topup_callbacks_failed_attempts_total", "Callback deliveries not acknowledged.",
          sum(&shard_metrics::callbacks_failed_attempts));
  counter("topup_callbacks_given_up_total", "Callbacks abandoned after max_attempts.",
          sum(&shard_metrics::callbacks_given_up));
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
  return out;
}

}  // namespace topup::engine
