#include "bench/topup_bench/redis_memory_sampler.hpp"

#include <hiredis/hiredis.h>

#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "bench/topup_bench/load_generator.hpp"
#include "engine/store/ledger_scripts.hpp"

namespace topup::bench {

namespace json = boost::json;

namespace {

/// The per-merchant keys whose memory the split reports, by the suffix topupd gives them.
struct key_kind {
  const char* name;
  std::string (engine::merchant_keys::*key)() const;
};

constexpr key_kind k_key_kinds[] = {
    {"log", &engine::merchant_keys::log},     {"o", &engine::merchant_keys::orders},
    {"t", &engine::merchant_keys::by_time},   {"work", &engine::merchant_keys::work},
    {"acct", &engine::merchant_keys::acct},   {"crefs", &engine::merchant_keys::crefs},
    {"fence", &engine::merchant_keys::fence}, {"unresolved", &engine::merchant_keys::unresolved},
};

/// used_memory out of an INFO memory answer; -1 if absent.
std::int64_t used_memory_of(std::string_view info) {
  constexpr std::string_view field = "\nused_memory:";
  const auto at = info.find(field);
  if (at == std::string_view::npos) return -1;
  return std::atoll(info.data() + at + field.size());
}

}  // namespace

/// One blocking hiredis connection; every command is pipelined and its replies read in order.
struct redis_memory_sampler::connection {
  redisContext* ctx = nullptr;

  explicit connection(std::uint16_t port) {
    const timeval timeout{2, 0};
    ctx = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (!ctx || ctx->err) {
      const std::string why = ctx ? ctx->errstr : "out of memory";
      if (ctx) redisFree(ctx);
      throw std::runtime_error("redis sampler: cannot connect to port " + std::to_string(port) +
                               ": " + why);
    }
    redisSetTimeout(ctx, timeout);
  }
  ~connection() { redisFree(ctx); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void append(const std::vector<std::string>& words) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& w : words) argv.push_back(w.c_str()), lengths.push_back(w.size());
    redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lengths.data());
  }

  /// The next reply: its integer (nil: 0) or, for a bulk string, `text`; false on any error.
  bool read(std::int64_t& integer, std::string* text = nullptr) {
    void* raw = nullptr;
    if (redisGetReply(ctx, &raw) != REDIS_OK || !raw) return false;
    auto* r = static_cast<redisReply*>(raw);
    bool ok = true;
    integer = 0;
    if (r->type == REDIS_REPLY_INTEGER) {
      integer = r->integer;
    } else if (r->type == REDIS_REPLY_STRING) {
      if (text) text->assign(r->str, static_cast<std::size_t>(r->len));
    } else if (r->type != REDIS_REPLY_NIL) {
      ok = false;
    }
    freeReplyObject(r);
    return ok;
  }
};

redis_memory_sampler::redis_memory_sampler(std::uint16_t redis_port, std::string prefix,
                                           std::vector<std::int64_t> merchant_ids)
    : prefix_(std::move(prefix)),
      merchant_ids_(std::move(merchant_ids)),
      conn_(std::make_unique<connection>(redis_port)) {}

redis_memory_sampler::~redis_memory_sampler() {
  if (thread_.joinable()) stop();
}

void redis_memory_sampler::start() {
  start_ns_ = now_ns();
  thread_ = std::thread([this] { sample_loop(); });
}

void redis_memory_sampler::sample_loop() {
  // On a one-second grid from start(), so a slow answer does not shift the later samples.
  auto due = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    redis_memory_sample s;
    s.t_s = static_cast<double>(now_ns() - start_ns_) / 1e9;
    conn_->append({"INFO", "memory"});
    for (const auto id : merchant_ids_) {
      const engine::merchant_keys keys(prefix_, id);
      conn_->append({"ZCARD", keys.by_time()});
      conn_->append({"XLEN", keys.log()});
    }
    std::string info;
    std::int64_t ignored = 0;
    bool ok = conn_->read(ignored, &info);
    for (std::size_t m = 0; ok && m < merchant_ids_.size(); ++m) {
      std::int64_t orders = 0, entries = 0;
      ok = conn_->read(orders) && conn_->read(entries);
      s.orders += orders;
      s.log_entries += entries;
    }
    s.used_memory = used_memory_of(info);
    // A broken connection is not repaired: the later samples are counted as failed.
    if (ok && s.used_memory >= 0) {
      samples_.push_back(s);
    } else {
      ++failed_samples_;
    }
    due += std::chrono::seconds(1);
    lock.lock();
    wake_.wait_until(lock, due, [this] { return stopping_; });
  }
}

json::object redis_memory_sampler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();

  // What each key type holds now, summed over the merchants (SAMPLES 0: every element counted,
  // once, at the end; a sampled estimate of a stream of ~10^5 entries wanders by percents).
  json::object split;
  for (const auto& kind : k_key_kinds) {
    for (const auto id : merchant_ids_)
      conn_->append({"MEMORY", "USAGE", (engine::merchant_keys(prefix_, id).*kind.key)(),
                     "SAMPLES", "0"});
    std::int64_t total = 0;
    for (std::size_t m = 0; m < merchant_ids_.size(); ++m) {
      std::int64_t bytes = 0;
      if (!conn_->read(bytes)) ++failed_samples_;
      total += bytes;
    }
    split[kind.name] = total;
  }

  json::array t_s, used, orders, entries;
  for (const auto& s : samples_) {
    t_s.push_back(s.t_s);
    used.push_back(s.used_memory);
    orders.push_back(s.orders);
    entries.push_back(s.log_entries);
  }
  return json::object{{"interval_s", 1},
                      {"t_s", std::move(t_s)},
                      {"used_memory", std::move(used)},
                      {"orders", std::move(orders)},
                      {"log_entries", std::move(entries)},
                      {"split", std::move(split)},
                      {"failed_samples", failed_samples_}};
}

}  // namespace topup::bench
