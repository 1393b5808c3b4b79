#include "engine/retention/log_trimmer.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "engine/audit/finding_sink.hpp"
#include "engine/audit/log_replay.hpp"
#include "engine/redis/command.hpp"
#include "engine/retention/archive.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/retention/durable_file.hpp"
#include "engine/store/order_store.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "engine/support/offload.hpp"

namespace topup::engine {

namespace {

using redis::reply;

// The ms part of a stream id "<ms>-<seq>".
std::int64_t id_ms(std::string_view id) noexcept {
  std::int64_t ms = 0;
  std::from_chars(id.data(), id.data() + id.size(), ms);
  return ms;
}

}  // namespace

std::optional<std::int64_t> log_trim_bound_ms(std::int64_t now_ms, std::int64_t retention_ms,
                                              std::optional<std::int64_t> oldest_in_t_ms,
                                              const std::optional<std::string>& stated_day,
                                              std::int64_t day_offset_s) {
  if (!stated_day) return std::nullopt;
  const auto day = business_day::parse(*stated_day);
  if (!day) return std::nullopt;
  std::int64_t bound = std::min(now_ms - retention_ms, day->end_ms(day_offset_s));
  if (oldest_in_t_ms) bound = std::min(bound, *oldest_in_t_ms - log_trimmer::k_clock_margin_ms);
  if (bound <= 0) return std::nullopt;
  return bound;
}

log_trimmer::log_trimmer(retention_context ctx) : retention_step(std::move(ctx)) {}

boost::asio::awaitable<boost::system::result<trim_pass>> log_trimmer::run_once(
    std::int64_t merchant_id) {
  trim_pass pass;
  if (fence_.epoch.load(std::memory_order_relaxed) == 0) co_return errc::storage_unavailable;
  const merchant_keys keys(prefix_, merchant_id);
  auto bound = co_await bound_ms(keys);
  if (!bound) co_return bound.error();
  if (!*bound) co_return pass;
  auto checkpoint = co_await read_checkpoint(keys);
  if (!checkpoint) co_return checkpoint.error();
  const std::string end_id = std::to_string(**bound) + "-0";
  for (int chunk = 0; chunk < k_chunks_per_pass && !stopping_; ++chunk) {
    auto entries = co_await oldest_entries(keys, end_id);
    if (!entries) co_return entries.error();
    if (entries->empty()) break;
    const bool more = static_cast<std::int64_t>(entries->size()) > k_chunk;
    const std::span<const order_event> folded_entries(entries->data(),
                                                      more ? k_chunk : entries->size());
    // The new position: the first entry kept, or just above the last one trimmed. (Not the
    // bound: on topupd's clock it may be ahead of Redis's, and an entry appended later with an id
    // below the position would be neither trimmed nor replayed.)
    std::string next_id = more ? (*entries)[k_chunk].id : stream_id_after(folded_entries.back().id);
    auto next = fold(merchant_id, *checkpoint, folded_entries, std::move(next_id));
    if (!next) co_return next.error();
    const bool written = co_await offload(
        files_, [&] { return write_chunk(merchant_id, folded_entries); },
        [merchant_id](const std::string& what) {
          logger("engine")->error("trim merchant={} log file not written: {}", merchant_id, what);
          return false;
        });
    if (!written) co_return errc::internal;
    auto trimmed = co_await trim(keys, *checkpoint, folded_entries, *next);
    if (!trimmed) co_return trimmed.error();
    if (!*trimmed) break;  // another pass trimmed meanwhile: the next pass reads its checkpoint
    if (**trimmed != static_cast<std::int64_t>(folded_entries.size()))
      logger("engine")->error("trim merchant={} entries_folded={} entries_trimmed={}", merchant_id,
                              folded_entries.size(), **trimmed);
    pass.trimmed += **trimmed;
    ++pass.chunks;
    *checkpoint = std::move(*next);
    if (!more) break;
  }
  if (pass.trimmed > 0)
    logger("engine")->info("trim merchant={} entries_trimmed={} checkpoint={}", merchant_id,
                           pass.trimmed, checkpoint->id);
  co_return pass;
}

boost::asio::awaitable<boost::system::result<std::optional<std::int64_t>>> log_trimmer::bound_ms(
    const merchant_keys& keys) {
  // The day and the offset its statements were cut at, both from the chain: a day made at
  // another offset than today's configuration ends where the chain says.
  auto stated_command = redis::args("HMGET", keys.statements(), "day", "tz");
  auto stated = co_await conn_.command(std::move(stated_command));
  if (!stated) co_return stated.error();
  if (stated->type != reply::kind::array || stated->elements.size() != 2)
    co_return unexpected_store_reply("trim stmt", *stated);
  std::optional<std::string> day;
  if (redis::is_string(stated->elements[0])) day = stated->elements[0].str;
  const auto tz = redis::is_string(stated->elements[1])
                      ? redis::parse_int(stated->elements[1].str)
                      : std::optional<std::int64_t>();
  if (day && (!business_day::parse(*day) || !tz))
    logger("engine")->warn("trim {} day=\"{}\" is not a day YYYYMMDD with its tz: the log is not "
                           "trimmed", keys.statements(), *day);
  if (!day || !tz) co_return std::optional<std::int64_t>();
  auto oldest_command = redis::args("ZRANGE", keys.by_time(), "0", "0", "WITHSCORES");
  auto oldest = co_await conn_.command(std::move(oldest_command));
  if (!oldest) co_return oldest.error();
  if (oldest->type != reply::kind::array ||
      (!oldest->elements.empty() && oldest->elements.size() != 2))
    co_return unexpected_store_reply("trim oldest order", *oldest);
  std::optional<std::int64_t> oldest_ms;
  if (!oldest->elements.empty()) {
    double score = 0;
    const std::string& text = oldest->elements[1].str;
    if (std::from_chars(text.data(), text.data() + text.size(), score).ec != std::errc{})
      co_return unexpected_store_reply("trim oldest order", *oldest);
    oldest_ms = static_cast<std::int64_t>(score);
  }
  co_return log_trim_bound_ms(clock_.wall_ms(), cfg_.storage.retention_ms, oldest_ms, day, *tz);
}

boost::asio::awaitable<boost::system::result<log_checkpoint>> log_trimmer::read_checkpoint(
    const merchant_keys& keys) {
  auto command = redis::args("HGETALL", keys.checkpoint());
  auto answer = co_await conn_.command(std::move(command));
  if (!answer) co_return answer.error();
  if (answer->type != reply::kind::array || answer->elements.size() % 2 != 0)
    co_return unexpected_store_reply("trim checkpoint", *answer);
  if (answer->elements.empty()) co_return log_checkpoint{};
  field_pairs fields;
  for (std::size_t i = 0; i < answer->elements.size(); i += 2)
    fields.emplace_back(answer->elements[i].str, answer->elements[i + 1].str);
  std::string bad_field;
  auto checkpoint = checkpoint_from_fields(fields, bad_field);
  if (!checkpoint) {
    logger("engine")->error("trim {} is unreadable (its {}): the log is not trimmed",
                            keys.checkpoint(), bad_field);
    co_return errc::storage_protocol;
  }
  co_return std::move(*checkpoint);
}

boost::asio::awaitable<boost::system::result<std::vector<order_event>>>
log_trimmer::oldest_entries(const merchant_keys& keys, std::string end_id) {
  auto command = redis::args("XRANGE", keys.log(), "-", "(" + end_id, "COUNT",
                             std::to_string(k_chunk + 1));
  auto answer = co_await conn_.command(std::move(command));
  if (!answer) co_return answer.error();
  if (answer->is_error()) co_return unexpected_store_reply("trim log", *answer);
  auto entries = order_events_from_reply(*answer);
  if (!entries) co_return unexpected_store_reply("trim log", *answer);
  co_return std::move(*entries);
}

// The audit's replay, from the checkpoint, over the chunk: the same rules, and the money it adds.
boost::system::result<log_checkpoint> log_trimmer::fold(std::int64_t merchant_id,
                                                        const log_checkpoint& before,
                                                        std::span<const order_event> chunk,
                                                        std::string next_id) const {
  audit_report findings;
  finding_sink sink(findings, merchant_id);
  log_replay replay(merchant_id, sink);
  // Without a checkpoint the chunk is the log's start: every order's accepted entry is in it.
  if (before.id != log_checkpoint{}.id) replay.seed(before);
  for (const auto& e : chunk) replay.apply(e);
  const money_replay& money = replay.money();
  if (!findings.clean() || money.overflow) {
    logger("engine")->error(
        "trim merchant={} the log's entries from {} break its rules ({}): the log is not trimmed",
        merchant_id, chunk.front().id,
        findings.findings.empty() ? std::string("sums overflow") : to_string(findings.findings[0]));
    return errc::storage_protocol;
  }
  log_checkpoint next = before;
  next.id = std::move(next_id);
  next.balance_fen = money.running;
  next.credits_fen = money.credits;
  next.debits_fen = money.debits;
  next.refunds_fen = money.refunds;
  for (const auto& [ref, amount] : money.credit_refs) {
    ++next.refs;
    next.refs_fen += amount;
  }
  next.entries += static_cast<std::int64_t>(chunk.size());
  next.money_entries += replay.money_entries();
  for (const auto& [number, order] : replay.orders())
    if (order.accepted) ++next.orders;
  next.at_ms = clock_.wall_ms();
  return next;
}

bool log_trimmer::write_chunk(std::int64_t merchant_id, std::span<const order_event> chunk) const {
  std::string text;
  for (const auto& e : chunk) {
    text += log_archive_line(e);
    text += '\n';
  }
  const std::string& first = chunk.front().id;
  const std::string path =
      log_day_dir(cfg_.statements.dir, merchant_id,
                  business_day_name(id_ms(first), cfg_.statements.offset_s)) +
      "/log-" + first + "-" + chunk.back().id + ".txt";
  if (auto written = write_file_durably(path, text); !written) {
    logger("engine")->error("trim merchant={} log file not written, the log is not trimmed: {}",
                            merchant_id, written.error().message());
    return false;
  }
  return true;
}

boost::asio::awaitable<boost::system::result<std::optional<std::int64_t>>> log_trimmer::trim(
    const merchant_keys& keys, const log_checkpoint& before, std::span<const order_event> chunk,
    const log_checkpoint& next) {
  auto call = ledger_scripts::trim_call(keys, fence_, before.id, chunk.front().id,
                                        chunk.back().id, next);
  auto answer =
      co_await ledger_scripts::trim().run(conn_, std::move(call.keys), std::move(call.args));
  if (!answer) co_return answer.error();
  const reply& r = *answer;
  if (r.type == reply::kind::array && !r.elements.empty() && redis::is_string(r.elements[0])) {
    const std::string& word = r.elements[0].str;
    if (word == "fenced") co_return errc::fenced;
    if (word == "moved") co_return std::optional<std::int64_t>();
    if (word == "ok" && r.elements.size() == 2 && r.elements[1].type == reply::kind::integer)
      co_return std::optional<std::int64_t>(r.elements[1].integer);
  }
  co_return unexpected_store_reply("trim", r);
}

}  // namespace topup::engine
