#include "app/takeover_watch.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <climits>

#include "engine/store/lease.hpp"
#include "engine/store/takeover.hpp"
#include "engine/support/log.hpp"

namespace topup::app {

namespace asio = boost::asio;

takeover_watch::takeover_watch(asio::io_context& io, engine::redis::connection& conn,
                               const engine::config& cfg, engine::order_ownership& ownership,
                               std::string self_token, std::function<void()> changed,
                               std::function<void(unsigned)> live_count)
    : conn_(conn),
      cfg_(cfg),
      ownership_(ownership),
      self_token_(std::move(self_token)),
      changed_(std::move(changed)),
      live_count_(std::move(live_count)),
      ttl_(cfg.server.lease_ms),
      timer_(io) {
  for (const auto& m : cfg.merchants) merchant_ids_.push_back(m.id);
}

void takeover_watch::stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<void> takeover_watch::run() {
  while (!stopped_) {
    timer_.expires_after(ttl_ / 3);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopped_) break;
    co_await round();
  }
}

asio::awaitable<void> takeover_watch::round() {
  ++rounds_;
  co_await watch_own_orders();
  co_await keep_claims(rounds_ % k_work_check_rounds == 0);
  co_await claim_dead();
}

void takeover_watch::publish_claims() {
  std::vector<engine::foster_claim> claims;
  for (const auto& [dead, claim] : claims_) claims.push_back(claim);
  ownership_.set_claims(std::move(claims));
}

asio::awaitable<void> takeover_watch::watch_own_orders() {
  const std::uint32_t self = ownership_.self();
  auto foster = co_await engine::read_foster(conn_, cfg_.redis.prefix, self);
  if (!foster) co_return;  // unknown now: keep what we knew
  const auto before = ownership_.taken_until();
  std::optional<std::int64_t> now;
  if (*foster) now = (*foster)->claim.cutoff_ms;
  if (now == before) co_return;
  ownership_.set_taken_until(now);
  auto log = logger("engine");
  if (now) {
    log->info("instance={} orders accepted up to {} ms are driven by instance={} (taken over "
              "while this one was down)",
              self, *now, (*foster)->claimer);
  } else {
    // Done with them, or its claimer died: whatever is left is this instance's again.
    log->info("instance={} drives its own earlier orders again (the takeover ended)", self);
    changed_();
  }
}

asio::awaitable<void> takeover_watch::keep_claims(bool count_work) {
  auto log = logger("engine");
  const std::uint32_t self = ownership_.self();
  bool changed = false;
  for (auto it = claims_.begin(); it != claims_.end();) {
    const auto [dead, claim] = *it;
    auto renewed = co_await engine::renew_foster(conn_, cfg_.redis.prefix, dead, self, ttl_);
    if (renewed && !*renewed) {
      log->warn("instance={} lost its claim on instance={}'s orders", self, dead);
      it = claims_.erase(it);
      changed = true;
      continue;
    }
    if (count_work) {
      auto left = co_await engine::foster_work_left(conn_, cfg_.redis.prefix, claim, merchant_ids_);
      if (left && !*left) {
        auto released = co_await engine::release_foster(conn_, cfg_.redis.prefix, dead, self);
        (void)released;  // lost: it expires within the ttl
        log->info("instance={} finished instance={}'s orders taken over; claim released", self, dead);
        seen_alive_.erase(dead);
        idle_[dead] = true;
        it = claims_.erase(it);
        changed = true;
        continue;
      }
    }
    ++it;
  }
  if (changed) publish_claims();
}

asio::awaitable<void> takeover_watch::claim_dead() {
  auto log = logger("engine");
  const std::uint32_t self = ownership_.self();
  // Idempotent; every round, so that a registry lost with a Redis restart is rebuilt.
  auto registered = co_await engine::register_instance(conn_, cfg_.redis.prefix, self);
  if (!registered) co_return;
  auto instances = co_await engine::registered_instances(conn_, cfg_.redis.prefix);
  if (!instances) co_return;
  std::vector<std::uint32_t> live, dead;
  for (const auto id : *instances) {
    auto held = co_await engine::lease_held(conn_, cfg_.redis.prefix, id);
    if (!held) co_return;  // Redis not answering: nothing is decided this round
    (*held ? live : dead).push_back(id);
    if (*held && claims_.contains(id)) seen_alive_[id] = true;
    if (*held) idle_.erase(id);
  }
  if (live.size() != live_ && !live.empty()) {
    live_ = static_cast<unsigned>(live.size());
    if (live_count_) live_count_(live_);
  }
  for (const auto id : dead) {
    if (id == self) continue;
    // Ours already: extended only if the instance ran again since and died again (its later
    // orders have nobody), else there is nothing new to claim.
    if (claims_.contains(id) && !seen_alive_[id]) continue;
    if (idle_[id]) continue;  // nothing of it needs work (a retired instance id)
    auto foster = co_await engine::read_foster(conn_, cfg_.redis.prefix, id);
    if (!foster) co_return;
    if (*foster && (*foster)->claimer != self) {
      unclaimed_rounds_.erase(id);
      continue;  // someone else's (if its claimer died, the claim expires and we see it free)
    }
    const int waited = ++unclaimed_rounds_[id];
    if (!claims_.contains(id) && !engine::claim_is_mine(id, self, live) && waited <= k_grace_rounds)
      continue;
    if (!claims_.contains(id)) {
      const engine::foster_claim everything{id, INT64_MAX, 0};
      auto left = co_await engine::foster_work_left(conn_, cfg_.redis.prefix, everything,
                                                    merchant_ids_);
      if (!left) continue;
      if (!*left) {
        idle_[id] = true;
        continue;
      }
    }
    const engine::lease_spec spec{cfg_.redis.prefix, id, ttl_};
    auto claimed = co_await engine::claim_foster(conn_, spec, self, self_token_, merchant_ids_,
                                                 k_cutoff_margin);
    if (!claimed) {
      log->warn("instance={} could not claim instance={}'s orders: {}", self, id,
                claimed.error().message());
      continue;
    }
    if (claimed->outcome != engine::claim_outcome::claimed) continue;
    unclaimed_rounds_.erase(id);
    seen_alive_[id] = false;
    claims_[id] = claimed->claim;
    publish_claims();
    log->warn("instance={} took over instance={}'s orders accepted up to {} ms (its lease lapsed; "
              "its fences raised to epoch {})",
              self, id, claimed->claim.cutoff_ms, claimed->claim.epoch);
    changed_();
  }
}

}  // namespace topup::app
