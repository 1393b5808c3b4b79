#include "engine/retention/order_archiver.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <utility>

#include "engine/redis/command.hpp"
#include "engine/retention/archive.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/store/order_store.hpp"
#include "engine/retention/durable_file.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "engine/support/offload.hpp"

namespace topup::engine {
using redis::reply;

bool may_leave_redis(const order_record& order, std::int64_t cutoff_ms) noexcept {
  if (!is_terminal(order.status) || order.finished_at_ms <= 0) return false;
  if (order.callback.status == callback_status::pending) return false;
  const std::int64_t touched =
      std::max({order.finished_at_ms, order.updated_at_ms, order.callback.last_at_ms});
  return touched <= cutoff_ms;
}

order_archiver::order_archiver(retention_context ctx) : retention_step(std::move(ctx)) {}

boost::asio::awaitable<boost::system::result<archive_pass>> order_archiver::run_once(
    std::int64_t merchant_id) {
  archive_pass pass;
  if (fence_.epoch.load(std::memory_order_relaxed) == 0) co_return errc::storage_unavailable;
  const std::int64_t cutoff = clock_.wall_ms() - cfg_.storage.retention_ms;
  for (int page = 0; page < k_pages_per_pass && !stopping_; ++page) {
    auto numbers = co_await older_than(merchant_id, cutoff, pass.kept);
    if (!numbers) co_return numbers.error();
    if (numbers->empty()) break;
    const auto read = static_cast<std::int64_t>(numbers->size());
    auto records = co_await store_.get_many(merchant_id, std::move(*numbers));
    if (!records) co_return records.error();
    std::vector<order_record> leaving;
    std::int64_t unreadable = 0;
    for (auto& r : *records) {
      // A number without its record, or a record that does not unpack, stays where it is: an
      // operator's matter (topupd audit names it), never archived half-read.
      if (!r)
        ++unreadable;
      else if (may_leave_redis(*r, cutoff))
        leaving.push_back(std::move(*r));
    }
    if (unreadable > 0)
      logger("engine")->warn("retention merchant={} orders_unreadable={} (kept in Redis)",
                             merchant_id, unreadable);
    std::int64_t removed = 0;
    if (!leaving.empty()) {
      const bool written = co_await offload(
          files_, [&] { return write_archive(merchant_id, leaving, pass.files); },
          [merchant_id](const std::string& what) {
            logger("engine")->error("retention merchant={} archive not written: {}", merchant_id,
                                    what);
            return false;
          });
      if (!written) co_return errc::internal;
      auto retired = co_await retire(merchant_id, leaving);
      if (!retired) co_return retired.error();
      removed = *retired;
    }
    pass.archived += removed;
    pass.kept += read - removed;
    if (read < k_page) break;
  }
  if (pass.archived > 0)
    logger("engine")->info("retention merchant={} archived={} kept={} files={}", merchant_id,
                           pass.archived, pass.kept, pass.files);
  co_return pass;
}

boost::asio::awaitable<boost::system::result<std::vector<std::string>>>
order_archiver::older_than(std::int64_t merchant_id, std::int64_t cutoff_ms, std::int64_t skip) {
  const merchant_keys keys(prefix_, merchant_id);
  auto command = redis::args("ZRANGEBYSCORE", keys.by_time(), "-inf", std::to_string(cutoff_ms),
                             "LIMIT", std::to_string(skip), std::to_string(k_page));
  auto answer = co_await conn_.command(std::move(command));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::array) co_return unexpected_store_reply("older_than", *answer);
  std::vector<std::string> numbers;
  numbers.reserve(answer->elements.size());
  for (auto& e : answer->elements) {
    if (!redis::is_string(e)) co_return unexpected_store_reply("older_than", *answer);
    numbers.push_back(std::move(e.str));
  }
  co_return numbers;
}

bool order_archiver::write_archive(std::int64_t merchant_id,
                                   const std::vector<order_record>& orders, std::int64_t& files) {
  std::map<std::string, std::string> by_day;  // creation day -> lines
  for (const auto& o : orders) {
    std::string& text =
        by_day[archive_day_of(o.order_number, o.created_at_ms, cfg_.statements.offset_s)];
    text += archive_line(o);
    text += '\n';
  }
  for (const auto& [day, text] : by_day) {
    // Unique across instances and runs sharing the directory, whatever the clock does:
    // instance, its epoch (one per start), pid, time, counter.
    const std::string path =
        archive_day_dir(cfg_.statements.dir, merchant_id, day) + "/orders-" +
        std::to_string(clock_.wall_ms()) + "-" + fence_.instance + "-e" +
        std::to_string(fence_.epoch.load(std::memory_order_relaxed)) + "-" +
        std::to_string(::getpid()) + "-" + std::to_string(files_written_++) + ".txt";
    if (auto written = write_file_durably(path, text); !written) {
      logger("engine")->error("retention merchant={} archive not written, orders stay in Redis: {}",
                              merchant_id, written.error().message());
      return false;
    }
    ++files;
  }
  return true;
}

boost::asio::awaitable<boost::system::result<std::int64_t>> order_archiver::retire(
    std::int64_t merchant_id, const std::vector<order_record>& orders) {
  const merchant_keys keys(prefix_, merchant_id);
  std::vector<ledger_scripts::retiring_order> leaving;
  leaving.reserve(orders.size());
  for (const auto& o : orders) leaving.push_back({o.order_number, o.event_count, o.order_no});
  auto call = ledger_scripts::retire_call(keys, fence_, leaving);
  auto answer =
      co_await ledger_scripts::retire().run(conn_, std::move(call.keys), std::move(call.args));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.type == reply::kind::array && !r.elements.empty() && redis::is_string(r.elements[0])) {
    if (r.elements[0].str == "fenced") co_return errc::fenced;
    if (r.elements[0].str == "ok" && r.elements.size() == 3 &&
        r.elements[1].type == reply::kind::integer)
      co_return r.elements[1].integer;
  }
  co_return unexpected_store_reply("retire", r);
}

}  // namespace topup::engine
