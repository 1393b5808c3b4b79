#include "engine/audit/books_reads.hpp"

#include <array>

#include "engine/redis/command.hpp"
#include "engine/redis/script.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"

namespace topup::engine {

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using boost::system::result;
using redis::args;
using redis::is_string;
using redis::is_transient_refusal;
using redis::parse_int;
using redis::reply;

constexpr const char* k_log_page_entries_text = "500";
static_assert(books_reader::k_log_page_entries == 500);
constexpr const char* k_scan_count_text = "200";  // members per SCAN step

// Read-only, atomic: the account, the ids of the log's last and first entries, the number of
// credit refs and the checkpoint of the trimmed log at one instant, so the log replayed from the
// checkpoint up to that id must add up to exactly that account.
// KEYS: 1 acct  2 log  3 crefs  4 ckpt. Answers {HMGET balance credits debits refunds, last id or
// "", HLEN crefs, HGETALL ckpt, first id or ""}; a key of the wrong type answers an error in its
// place (pcall), not an error for the whole script.
constexpr const char* k_snapshot_lua = R"lua(
local function id_of(range)
  if range.err then return range end
  return (range[1] and range[1][1]) or ''
end
local acct = redis.pcall('HMGET', KEYS[1], 'balance', 'credits', 'debits', 'refunds')
local last = id_of(redis.pcall('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1))
local first = id_of(redis.pcall('XRANGE', KEYS[2], '-', '+', 'COUNT', 1))
return {acct, last, redis.pcall('HLEN', KEYS[3]), redis.pcall('HGETALL', KEYS[4]), first}
)lua";

// Read-only, atomic: the projections of some orders at one instant. The scripts write an order's
// record, its order_no entry, `t` and `work` in the step that appends its event, so any such view
// of one order must agree with itself. KEYS: 1 o  2 t  3 work. ARGV: per order its number and
// its `#<order_no>` field, "" when the log does not say: then the record's order_no (its sixth
// field, docs/STORAGE.md, escapes undone) is used. Answers per order {record, order_no entry,
// t score, work score}, nil for what is absent and an error in place of a key of the wrong type.
constexpr const char* k_projections_lua = R"lua(
local out = {}
for i = 1, #ARGV, 2 do
  local n, f = ARGV[i], ARGV[i + 1]
  local rec = redis.pcall('HGET', KEYS[1], n)
  if f == '' and type(rec) == 'string' then
    local no = string.match(rec, '^[^\31]*\31[^\31]*\31[^\31]*\31[^\31]*\31[^\31]*\31([^\31]*)')
    if no then f = '#' .. no:gsub('\30\49', '\31'):gsub('\30\48', '\30') end
  end
  local entry = false
  if f ~= '' then entry = redis.pcall('HGET', KEYS[1], f) end
  out[#out + 1] = {rec, entry, redis.pcall('ZSCORE', KEYS[2], n), redis.pcall('ZSCORE', KEYS[3], n)}
end
return out
)lua";

const redis::script& snapshot_script() {
  static const redis::script instance{k_snapshot_lua};
  return instance;
}

const redis::script& projections_script() {
  static const redis::script instance{k_projections_lua};
  return instance;
}

// Redis refused a whole read for now (LOADING, BUSY, ...): nothing was audited by it, so the
// audit stops. Logged here, once. Any other refusal of a read-only script is a bug of ours.
error_code refused(std::string_view what, const reply& r) {
  logger("engine")->error("audit op={} redis_answer=\"{}\"", what, r.str);
  return is_transient_refusal(r.str) ? errc::storage_unavailable : errc::storage_protocol;
}

read_value read_value_of(const reply& r) {
  if (r.is_error()) return read_value{read_value::state::unreadable, r.str};
  if (r.is_nil()) return read_value{read_value::state::absent, {}};
  return read_value{read_value::state::present, r.str};
}

bool is_array_of(const reply& r, std::size_t size) noexcept {
  return r.type == reply::kind::array && r.elements.size() == size;
}

// One order's {record, order_no entry, t score, work score}; nullopt for another shape.
std::optional<order_projections> projections_of(const reply& one) {
  if (!is_array_of(one, 4)) return std::nullopt;
  return order_projections{read_value_of(one.elements[0]), read_value_of(one.elements[1]),
                           read_value_of(one.elements[2]), read_value_of(one.elements[3])};
}

// {cursor, [member, value or score]...}; nullopt for another shape.
std::optional<scan_page> scan_page_of(const reply& page) {
  if (!is_array_of(page, 2) || !is_string(page.elements[0]) ||
      page.elements[1].type != reply::kind::array)
    return std::nullopt;
  scan_page out{page.elements[0].str, {}};
  const auto& members = page.elements[1].elements;
  for (std::size_t i = 0; i + 1 < members.size(); i += 2)  // member/field, score/value
    out.members.emplace_back(members[i].str, members[i + 1].str);
  return out;
}

}  // namespace

std::string_view key_name(projection_key key) noexcept {
  switch (key) {
    case projection_key::orders:
      return "o";
    case projection_key::by_time:
      return "t";
    case projection_key::work:
      return "work";
    case projection_key::credit_refs:
      return "crefs";
  }
  return "?";
}

asio::awaitable<result<account_snapshot>> books_reader::read_snapshot() {
  auto answer = co_await snapshot_script().run(
      conn_, args(keys_.acct(), keys_.log(), keys_.crefs(), keys_.checkpoint()),
      std::vector<std::string>());
  if (!answer) co_return answer.error();
  if (answer->is_error()) co_return refused("snapshot", *answer);
  account_snapshot snapshot;
  if (!is_array_of(*answer, 5)) {
    out_.add("", "reading the account gave an answer of unexpected shape");
    snapshot.log_readable = false;
    co_return snapshot;
  }
  snapshot.totals = account_of(answer->elements[0]);
  const reply& tail = answer->elements[1];
  if (tail.is_error()) {
    out_.add("", "the log is unreadable: " + quoted_value(tail.str));
    snapshot.log_readable = false;
  } else if (is_string(tail)) {
    snapshot.last_id = tail.str;
  }
  const reply& refs = answer->elements[2];
  if (refs.is_error())
    out_.add("", "crefs is unreadable: " + quoted_value(refs.str));
  else if (refs.type == reply::kind::integer)
    snapshot.credit_refs = refs.integer;
  bool checkpoint_readable = true;
  snapshot.checkpoint =
      checkpoint_of(answer->elements[3], checkpoint_readable, snapshot.checkpoint_id);
  if (!checkpoint_readable) snapshot.log_readable = false;
  if (is_string(answer->elements[4])) snapshot.first_id = answer->elements[4].str;
  co_return snapshot;
}

std::optional<log_checkpoint> books_reader::checkpoint_of(const reply& ckpt, bool& readable,
                                                          std::string& raw_id) {
  readable = false;
  if (ckpt.is_error()) {
    out_.add("", "ckpt is unreadable: " + quoted_value(ckpt.str));
    return std::nullopt;
  }
  if (ckpt.type != reply::kind::array || ckpt.elements.size() % 2 != 0) {
    out_.add("", "reading ckpt gave an answer of unexpected shape");
    return std::nullopt;
  }
  readable = true;
  if (ckpt.elements.empty()) return std::nullopt;  // the log was never trimmed
  field_pairs fields;
  for (std::size_t i = 0; i < ckpt.elements.size(); i += 2) {
    fields.emplace_back(ckpt.elements[i].str, ckpt.elements[i + 1].str);
    if (fields.back().first == "id") raw_id = fields.back().second;
  }
  std::string bad_field;
  auto checkpoint = checkpoint_from_fields(fields, bad_field);
  if (!checkpoint) {
    std::optional<std::string_view> value;
    for (const auto& [name, v] : fields)
      if (name == bad_field) value = v;
    out_.add("", "ckpt " + bad_field + " is " + (value ? quoted_value(*value) : "missing") +
                     ", not " + (bad_field == "id" ? "a stream id" : "an integer") +
                     ": the log cannot be replayed from its checkpoint");
    readable = false;
  }
  return checkpoint;
}

asio::awaitable<result<std::string>> books_reader::read_checkpoint_id() {
  auto command = args("HGET", keys_.checkpoint(), "id");
  auto answer = co_await conn_.command(std::move(command));
  if (!answer) co_return answer.error();
  if (answer->is_error() && is_transient_refusal(answer->str)) co_return refused("ckpt", *answer);
  co_return is_string(*answer) ? answer->str : std::string();
}

std::optional<account_totals> books_reader::account_of(const reply& acct) {
  if (acct.is_error()) {
    out_.add("", "acct is unreadable: " + quoted_value(acct.str));
    return std::nullopt;
  }
  if (!is_array_of(acct, 4)) {
    out_.add("", "reading acct gave an answer of unexpected shape");
    return std::nullopt;
  }
  static constexpr std::array<std::string_view, 4> k_names = {"balance", "credits", "debits",
                                                              "refunds"};
  std::array<fen_t, 4> v{};
  bool readable = true;
  for (std::size_t i = 0; i < 4; ++i) {
    const reply& e = acct.elements[i];
    if (e.is_nil()) continue;  // a merchant never credited has no acct
    auto n = is_string(e) ? parse_int(e.str) : std::nullopt;
    if (!n) {
      out_.add("", "acct " + std::string(k_names[i]) + " is " + quoted_value(e.str) +
                       ", not an integer");
      readable = false;
      continue;
    }
    v[i] = *n;
  }
  if (!readable) return std::nullopt;
  return account_totals{v[0], v[1], v[2], v[3]};
}

asio::awaitable<read_result<std::vector<order_event>>> books_reader::read_log_page(
    std::string start, std::string end_id) {
  auto page = co_await conn_.command(args("XRANGE", keys_.log(), std::move(start),
                                          std::move(end_id), "COUNT", k_log_page_entries_text));
  if (!page) co_return page.error();
  if (page->is_error()) {
    if (is_transient_refusal(page->str)) co_return refused("log", *page);
    out_.add("", "the log is unreadable: " + quoted_value(page->str));
    co_return std::optional<std::vector<order_event>>();
  }
  auto entries = order_events_from_reply(*page);
  if (!entries) {
    out_.add("", "the log does not read as a stream");
    co_return std::optional<std::vector<order_event>>();
  }
  co_return std::optional<std::vector<order_event>>(std::move(*entries));
}

asio::awaitable<read_result<std::vector<read_value>>> books_reader::read_credit_refs(
    std::vector<std::string> refs) {
  std::vector<std::string> command = args("HMGET", keys_.crefs());
  command.insert(command.end(), refs.begin(), refs.end());
  auto answer = co_await conn_.command(std::move(command));
  if (!answer) co_return answer.error();
  if (!is_array_of(*answer, refs.size())) {
    if (answer->is_error() && is_transient_refusal(answer->str))
      co_return refused("crefs", *answer);
    out_.add("", "reading crefs gave an answer of unexpected shape");
    co_return std::optional<std::vector<read_value>>();
  }
  std::vector<read_value> held;
  held.reserve(refs.size());
  for (const reply& r : answer->elements) held.push_back(read_value_of(r));
  co_return std::optional<std::vector<read_value>>(std::move(held));
}

asio::awaitable<read_result<std::vector<std::optional<order_projections>>>>
books_reader::read_projections(std::vector<std::pair<std::string, std::string>> orders) {
  using projections = std::vector<std::optional<order_projections>>;
  std::vector<std::string> argv;
  argv.reserve(2 * orders.size());
  for (const auto& [number, order_no_field] : orders) {
    argv.push_back(number);
    argv.push_back(order_no_field);
  }
  auto answer = co_await projections_script().run(
      conn_, args(keys_.orders(), keys_.by_time(), keys_.work()), std::move(argv));
  if (!answer) co_return answer.error();
  if (answer->is_error()) co_return refused("projections", *answer);
  if (!is_array_of(*answer, orders.size())) {
    out_.add("", "reading orders' projections gave an answer of unexpected shape");
    co_return std::optional<projections>();
  }
  projections read(orders.size());
  for (std::size_t i = 0; i < orders.size(); ++i) {
    read[i] = projections_of(answer->elements[i]);
    if (!read[i])
      out_.add(orders[i].first, "reading its projections gave an answer of unexpected shape");
  }
  co_return std::optional<projections>(std::move(read));
}

std::string books_reader::key_of(projection_key key) const {
  switch (key) {
    case projection_key::orders:
      return keys_.orders();
    case projection_key::by_time:
      return keys_.by_time();
    case projection_key::credit_refs:
      return keys_.crefs();
    case projection_key::work:
      break;
  }
  return keys_.work();
}

// `o` and `crefs` are hashes, `t` and `work` are zsets.
std::vector<std::string> books_reader::scan_command(projection_key key, std::string cursor) const {
  const bool hash = key == projection_key::orders || key == projection_key::credit_refs;
  const char* verb = hash ? "HSCAN" : "ZSCAN";
  return args(verb, key_of(key), std::move(cursor), "COUNT", k_scan_count_text);
}

asio::awaitable<read_result<scan_page>> books_reader::read_scan_page(projection_key key,
                                                                     std::string cursor) {
  const std::string name(key_name(key));
  auto page = co_await conn_.command(scan_command(key, std::move(cursor)));
  if (!page) co_return page.error();
  if (page->is_error()) {
    if (is_transient_refusal(page->str)) co_return refused("scan", *page);
    out_.add("", name + " is unreadable: " + quoted_value(page->str));
    co_return std::optional<scan_page>();
  }
  auto members = scan_page_of(*page);
  if (!members) out_.add("", "scanning " + name + " gave an answer of unexpected shape");
  co_return std::move(members);
}

}  // namespace topup::engine
