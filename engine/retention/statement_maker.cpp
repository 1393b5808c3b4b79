#include "engine/retention/statement_maker.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "engine/redis/command.hpp"
#include "engine/retention/archive.hpp"
#include "engine/retention/statement.hpp"
#include "engine/retention/statement_files.hpp"
#include "engine/store/ledger_scripts.hpp"
#include "engine/store/order_store.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "engine/support/offload.hpp"

namespace topup::engine {
using redis::reply;

statement_maker::statement_maker(retention_context ctx)
    : retention_step(std::move(ctx)), chain_(conn_, prefix_, fence_) {}

boost::asio::awaitable<boost::system::result<statement_pass>> statement_maker::run_once(
    const merchant_config& merchant) {
  statement_pass pass;
  if (fence_.epoch.load(std::memory_order_relaxed) == 0) co_return errc::storage_unavailable;
  auto chain = co_await chain_of(merchant.id);
  if (!chain) co_return chain.error();
  if (chain->first && chain->offset_s != cfg_.statements.offset_s) {
    // Days cut at another offset would leave hours out of both statements, or count them twice.
    logger("engine")->error(
        "statements merchant={} not made: its statements are cut at {}, statements.timezone "
        "says {}; set it back (the timezone of existing statements cannot change)",
        merchant.id, format_utc_offset(chain->offset_s.value_or(0)),
        format_utc_offset(cfg_.statements.offset_s));
    co_return errc::internal;
  }
  for (int i = 0; i < k_days_per_pass && !stopping_; ++i) {
    const auto day = chain->next();
    if (!day) break;
    const std::int64_t day_end = day->end_ms(cfg_.statements.offset_s);
    if (clock_.wall_ms() < day_end + cfg_.statements.delay_s * 1000) break;
    auto claim = co_await chain_.claim(merchant.id, *chain, *day, day_end);
    if (!claim) co_return claim.error();
    if (*claim == chain_claim::fenced) co_return errc::fenced;
    if (*claim == chain_claim::busy || *claim == chain_claim::early) break;
    if (*claim == chain_claim::ok) {
      auto made = co_await make(merchant, *chain, *day);
      if (!made) co_return made.error();
      pass.made += made->made;
      pass.entries += made->entries;
    }
    // Made by this maker or another: the chain moved on.
    chain = co_await chain_.read(merchant.id);
    if (!chain) co_return chain.error();
  }
  co_return pass;
}

boost::asio::awaitable<boost::system::result<statement_chain>> statement_maker::chain_of(
    std::int64_t merchant_id) {
  auto chain = co_await chain_.read(merchant_id);
  if (!chain || chain->first) co_return chain;
  // Statements begin on the day of the log's first entry; a merchant without one begins today.
  const merchant_keys keys(prefix_, merchant_id);
  auto head = co_await conn_.command(redis::args("XRANGE", keys.log(), "-", "+", "COUNT", "1"));
  if (!head) co_return head.error();
  auto entries = order_events_from_reply(*head);
  if (!entries) co_return unexpected_store_reply("statement log head", *head);
  const std::int64_t since = entries->empty() ? clock_.wall_ms() : entries->front().at_ms();
  auto begun = co_await chain_.begin(
      merchant_id, business_day::day_of(since, cfg_.statements.offset_s), cfg_.statements.offset_s);
  if (!begun) co_return begun.error();
  if (*begun == chain_claim::fenced) co_return errc::fenced;
  co_return co_await chain_.read(merchant_id);
}

boost::asio::awaitable<boost::system::result<statement_pass>> statement_maker::make(
    const merchant_config& merchant, const statement_chain& chain, business_day day) {
  auto log = logger("engine");
  const std::string name = day.to_string();
  // The log is trimmed only behind days made; a chain set back by hand past the trim cannot be
  // made again from what is left (the day's file was made when the entries were there).
  const merchant_keys keys(prefix_, merchant.id);
  auto trimmed_to = co_await conn_.command(redis::args("HGET", keys.checkpoint(), "id"));
  if (!trimmed_to) co_return trimmed_to.error();
  if (redis::is_string(*trimmed_to) &&
      order_event{trimmed_to->str, {}}.at_ms() > day.start_ms(cfg_.statements.offset_s)) {
    log->error("statement merchant={} day={} not made: the log is trimmed to {}, after the day "
               "began; its statement was made before the trim (statements.dir)",
               merchant.id, name, trimmed_to->str);
    co_return errc::internal;
  }
  auto folded = co_await read_day(merchant, day, chain.last ? chain.closing_fen : 0);
  if (!folded) co_return folded.error();
  auto records = co_await records_of(merchant.id, folded->order_numbers());
  if (!records) co_return records.error();
  if (stopping_) co_return errc::storage_unavailable;  // shutdown: the next start makes it
  auto written = co_await offload(
      files_, [&] { return write_day(merchant.id, day, *folded, std::move(*records)); },
      [](const std::string& what) -> text_result<written_day> { return fail(what); });
  if (!written) {
    log->error("statement merchant={} day={} not made: {}", merchant.id, name,
               written.error().message());
    co_return errc::internal;
  }
  const statement_summary& made = written->summary;
  auto moved = co_await chain_.made(merchant.id, chain, day, made.closing_fen,
                                    written->sha256_hex);
  if (!moved) co_return moved.error();
  if (*moved == chain_claim::fenced) co_return errc::fenced;
  log->info("statement merchant={} day={} orders={} pendings={} credits={} closing={} sha256={}{}",
            merchant.id, name, made.orders, made.pendings, made.credit_lines,
            format_fen(made.closing_fen), written->sha256_hex,
            *moved == chain_claim::moved ? " (the chain had moved: another maker recorded it)" : "");
  co_return statement_pass{*moved == chain_claim::ok ? 1 : 0, folded->entries()};
}

boost::asio::awaitable<boost::system::result<statement_day>> statement_maker::read_day(
    const merchant_config& merchant, business_day day, fen_t opening_fen) {
  const merchant_keys keys(prefix_, merchant.id);
  statement_day folded(merchant.id, day, cfg_.statements.offset_s, opening_fen, merchant.sandbox);
  std::string start = std::to_string(day.start_ms(cfg_.statements.offset_s));
  const std::string end = std::to_string(day.end_ms(cfg_.statements.offset_s) - 1);
  while (!stopping_) {
    auto page = co_await conn_.command(
        redis::args("XRANGE", keys.log(), start, end, "COUNT", std::to_string(k_log_page)));
    if (!page) co_return page.error();
    auto entries = order_events_from_reply(*page);
    if (!entries) co_return unexpected_store_reply("statement log", *page);
    for (const auto& e : *entries) {
      if (auto applied = folded.apply(e); !applied) {
        logger("engine")->error("statement merchant={} day={} not made: {}", merchant.id,
                                day.to_string(), applied.error().message());
        co_return errc::internal;
      }
    }
    if (static_cast<std::int64_t>(entries->size()) < k_log_page) break;
    start = "(" + entries->back().id;
  }
  if (stopping_) co_return errc::storage_unavailable;  // shutdown: the next start reads it again
  co_return folded;
}

boost::asio::awaitable<boost::system::result<std::map<std::string, order_record>>>
statement_maker::records_of(std::int64_t merchant_id, const std::vector<std::string>& numbers) {
  std::map<std::string, order_record> out;
  std::vector<std::string> archived;  // not in Redis: retention took them, or they are unreadable
  for (std::size_t at = 0; at < numbers.size(); at += k_record_page) {
    const auto last = std::min(numbers.size(), at + static_cast<std::size_t>(k_record_page));
    std::vector<std::string> page(numbers.begin() + static_cast<std::ptrdiff_t>(at),
                                  numbers.begin() + static_cast<std::ptrdiff_t>(last));
    auto reads = co_await store_.get_many(merchant_id, page);
    if (!reads) co_return reads.error();
    for (std::size_t i = 0; i < page.size(); ++i) {
      auto& read = (*reads)[i];
      if (read) {
        out.emplace(page[i], std::move(*read));
        continue;
      }
      // Not in Redis: retention took it. A record there that does not read is named (the
      // archive may still hold a readable copy; if not, the statement says "no record").
      if (read.error() != errc::order_not_found)
        logger("engine")->error("statement merchant={} order {} in Redis unreadable: {}",
                                merchant_id, page[i], read.error().message());
      archived.push_back(page[i]);
    }
  }
  if (!archived.empty()) {
    const bool read = co_await offload(
        files_, [&] { return add_archived(merchant_id, archived, out); },
        [merchant_id](const std::string& what) {
          logger("engine")->error("statement merchant={} archive not read: {}", merchant_id, what);
          return false;
        });
    if (!read) co_return errc::internal;
  }
  co_return out;
}

text_result<statement_maker::written_day> statement_maker::write_day(
    std::int64_t merchant_id, business_day day, const statement_day& folded,
    std::map<std::string, order_record> records) const {
  auto lines = folded.lines(records);
  if (!lines) return lines.error();
  records.clear();  // the lines hold what they show: a big day's records go before the CSV
  const statement made = build_statement(*lines);
  auto written = write_statement(cfg_.statements.dir, merchant_id, day, made.csv);
  if (!written) return written.error();
  return written_day{made.summary, std::move(written->sha256_hex)};
}

bool statement_maker::add_archived(std::int64_t merchant_id,
                                   const std::vector<std::string>& numbers,
                                   std::map<std::string, order_record>& out) {
  // The day the number encodes first; then the days around it, where an archive written under
  // another statements.timezone (or by an earlier build, by created_at) may hold it.
  std::map<std::string, std::set<std::string>> by_day;  // YYYYMMDD -> numbers wanted there
  for (const auto& number : numbers)
    by_day[archive_day_of(number, 0, cfg_.statements.offset_s)].insert(number);
  for (int round = 0; round < 2 && !by_day.empty(); ++round) {
    std::map<std::string, std::set<std::string>> missing;
    for (const auto& [day, wanted] : by_day) {
      auto archive = read_archive_day(cfg_.statements.dir, merchant_id, day, &wanted);
      if (!archive) {
        logger("engine")->error("statement merchant={} archive of {} not read: {}", merchant_id,
                                day, archive.error().message());
        return false;
      }
      for (auto& [number, record] : *archive) out.emplace(number, std::move(record));
      const auto parsed = business_day::parse(day);
      if (round > 0 || !parsed) continue;
      for (const auto& number : wanted) {
        if (out.contains(number)) continue;
        missing[parsed->prev().to_string()].insert(number);
        missing[parsed->next().to_string()].insert(number);
      }
    }
    by_day = std::move(missing);
  }
  return true;
}

}  // namespace topup::engine
