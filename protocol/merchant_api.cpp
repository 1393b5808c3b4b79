#include "protocol/merchant_api.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

#include "engine/order/carrier.hpp"
#include "engine/retention/archive.hpp"
#include "engine/support/clock.hpp"
#include "engine/support/errc.hpp"
#include "protocol/answers.hpp"
#include "protocol/errc.hpp"
#include "protocol/form.hpp"
#include "protocol/signing.hpp"
#include "protocol/statement_download.hpp"
#include "protocol/wire_codes.hpp"

namespace topup::protocol {

namespace {

using engine::errc;

constexpr std::array<std::string_view, 7> k_paths = {
    "/rest/Recharge/pushOrder", "/rest/Recharge/query",  "/rest/User/query",
    "/rest/Recharge/mobileInfo", "/rest/Recharge/cancel", "/rest/Recharge/list",
    "/rest/Recharge/bill"};

/// An authenticated request on its way through one endpoint.
struct call {
  const form_params& params;
  const engine::merchant_config& merchant;
  unsigned version;
  bool keep_alive;
  /// The request's Accept-Encoding (a view into the request, which outlives the call).
  std::string_view accept_encoding;

  const std::string* get(std::string_view key) const {
    const std::string* v = params.find(key);
    return (v && !v->empty()) ? v : nullptr;
  }
  http_response bad_param(std::string_view key) const {
    return error_answer(protocol::errc::bad_param, version, keep_alive, bad_param_msg(key));
  }
  http_response fail(boost::system::error_code ec) const {
    return error_answer(ec, version, keep_alive);
  }
  http_response ok(std::string_view msg, boost::json::value data) const {
    return success_answer(msg, std::move(data), version, keep_alive);
  }
};

bool valid_order_no(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
}

/// Spec §3.1 notify_url: at most 512 bytes, an http(s) URL (engine::is_http_url) optionally
/// followed by a query string, which is kept and sent as given. The query may hold any visible
/// ASCII or UTF-8 byte but no fragment: a fragment is never sent, so the callback could not go
/// to the URL exactly as given.
bool valid_notify_url(std::string_view url) {
  if (url.size() > 512) return false;
  const auto question = url.find('?');
  const std::string_view query = question == std::string_view::npos ? "" : url.substr(question + 1);
  const bool clean_query = std::all_of(query.begin(), query.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte != 0x7f && c != '#';
  });
  return clean_query && engine::is_http_url(url.substr(0, question));
}

/// order_number or order_no, whichever is given (order_number wins when both are).
bool order_ref(const call& c, std::string& order_number, std::string& order_no) {
  if (const auto* v = c.get("order_number")) order_number = *v;
  if (const auto* v = c.get("order_no")) order_no = *v;
  return !order_number.empty() || !order_no.empty();
}

boost::asio::awaitable<http_response> push_order(api_context& ctx, const call& c) {
  engine::push_request req;
  req.merchant = &c.merchant;
  for (std::string_view key : {"store_id", "mobile", "order_no", "money", "recharge_type"})
    if (!c.get(key)) co_return c.bad_param(key);
  req.store_id = *c.get("store_id");  // checked by the engine, after the idempotency check
  req.order_no = *c.get("order_no");
  if (!valid_order_no(req.order_no)) co_return c.bad_param("order_no");
  req.mobile = *c.get("mobile");
  if (!engine::valid_mobile_format(req.mobile)) co_return c.fail(errc::invalid_mobile);
  auto money = parse_int(*c.get("money"));
  if (!money || *money <= 0) co_return c.fail(errc::unsupported_amount);
  req.money_yuan = *money;
  const std::string& type = *c.get("recharge_type");
  if (type != "0" && type != "1") co_return c.bad_param("recharge_type");
  req.recharge_type = type == "1" ? 1 : 0;
  if (const auto* url = c.get("notify_url")) {
    if (!valid_notify_url(*url)) co_return c.fail(protocol::errc::invalid_notify_url);
    req.notify_url = *url;
  }
  if (const auto* change = c.get("change")) {
    if (*change != "0" && *change != "1") co_return c.bad_param("change");
    req.change = *change == "1";
  }
  // An unknown source is refused by the engine after the idempotency check (spec §3.1).
  if (const auto* source = c.get("source")) req.source = *source;
  auto accepted = co_await ctx.orders.push(std::move(req));
  if (!accepted) co_return c.fail(accepted.error());
  boost::json::object data;
  data["order_number"] = accepted->order_number;
  co_return c.ok("推送成功", std::move(data));
}

boost::asio::awaitable<http_response> query_order(api_context& ctx, const call& c) {
  std::string order_number, order_no;
  if (!order_ref(c, order_number, order_no)) co_return c.bad_param("order_number");
  auto found = co_await ctx.orders.query(c.merchant.id, order_number, order_no);
  if (!found && found.error() == engine::errc::order_not_found && !order_number.empty()) {
    if (auto day = engine::archived_statement_day(order_number, c.merchant.id, ctx.cfg,
                                                  engine::system_clock().wall_ms())) {
      co_return error_answer(found.error(), c.version, c.keep_alive,
                             "订单已归档，见" + *day + "起的对账单");
    }
  }
  if (!found) co_return c.fail(found.error());
  co_return c.ok("获取成功", order_json(*found));
}

boost::asio::awaitable<http_response> cancel_order(api_context& ctx, const call& c) {
  std::string order_number, order_no;
  if (!order_ref(c, order_number, order_no)) co_return c.bad_param("order_number");
  auto cancelled = co_await ctx.orders.cancel(c.merchant.id, order_number, order_no);
  if (!cancelled) co_return c.fail(cancelled.error());
  co_return c.ok("撤单成功", order_json(*cancelled));
}

boost::asio::awaitable<http_response> user_query(api_context& ctx, const call& c) {
  auto totals = co_await ctx.orders.account(c.merchant.id);
  if (!totals) co_return c.fail(totals.error());
  boost::json::object data;
  data["money"] = engine::format_fen(totals->balance);
  data["id"] = c.merchant.id;
  co_return c.ok("获取成功", std::move(data));
}

http_response mobile_info(api_context& ctx, const call& c) {
  const auto* mobile = c.get("mobile");
  if (!mobile) return c.bad_param("mobile");
  auto carrier = engine::detect_carrier(*mobile);
  if (!carrier) return c.fail(errc::invalid_mobile);
  boost::json::object data;
  data["mobile"] = *mobile;
  data["carrier"] = engine::carrier_name_zh(*carrier);
  data["carrier_code"] = engine::carrier_code(*carrier);
  boost::json::array amounts;
  for (auto a : ctx.catalogue.amounts_for(*carrier, c.merchant.sandbox)) amounts.push_back(a);
  data["amounts"] = std::move(amounts);
  return c.ok("获取成功", std::move(data));
}

boost::asio::awaitable<http_response> list_orders(api_context& ctx, const call& c) {
  constexpr std::int64_t k_max_range_s = 31LL * 24 * 3600;
  const auto* start_text = c.get("start_time");
  const auto* end_text = c.get("end_time");
  if (!start_text) co_return c.bad_param("start_time");
  if (!end_text) co_return c.bad_param("end_time");
  auto start = parse_int(*start_text);
  auto end = parse_int(*end_text);
  if (!start) co_return c.bad_param("start_time");
  if (!end || *end < *start || *end - *start > k_max_range_s) co_return c.bad_param("end_time");
  std::optional<engine::order_status> status;
  if (const auto* s = c.get("status")) {
    auto n = parse_int(*s);
    if (!n || *n > 9 || !(status = engine::status_from_int(static_cast<int>(*n))))
      co_return c.bad_param("status");
  }
  std::int64_t page = 1, page_size = 20;
  if (const auto* p = c.get("page")) {
    auto n = parse_int(*p);
    if (!n || *n < 1 || *n > 1'000'000) co_return c.bad_param("page");
    page = *n;
  }
  if (const auto* p = c.get("page_size")) {
    auto n = parse_int(*p);
    if (!n || *n < 1 || *n > 100) co_return c.bad_param("page_size");
    page_size = *n;
  }
  // end_time is inclusive: the whole second end_time counts.
  auto result = co_await ctx.orders.list(c.merchant.id, *start * 1000, *end * 1000 + 999, status,
                                         page, page_size);
  if (!result) co_return c.fail(result.error());
  boost::json::array list;
  for (const auto& o : result->orders) list.push_back(order_json(o));
  boost::json::object data;
  data["total"] = result->total;
  data["page"] = page;
  data["list"] = std::move(list);
  co_return c.ok("获取成功", std::move(data));
}

/// Spec §3.7. Only the authenticated merchant's own file: the id comes from the app_key, never
/// from a parameter.
http_response bill(api_context& ctx, const call& c) {
  const auto* date = c.get("date");
  if (!date) return c.bad_param("date");
  return statement_answer(ctx.cfg.statements, c.merchant.id, *date, c.accept_encoding, c.version,
                          c.keep_alive);
}

}  // namespace

merchant_api::merchant_api(api_context& ctx) : ctx_(ctx), limiter_(ctx.shard_count) {}

bool merchant_api::handles(std::string_view path) {
  return std::ranges::find(k_paths, path) != k_paths.end();
}

boost::asio::awaitable<http_response> merchant_api::handle(http_request request,
                                                           std::string_view path,
                                                           std::string_view query) {
  const unsigned version = request.message.version();
  const bool keep_alive = request.message.keep_alive();
  if (request.message.method() != http::verb::post)
    co_return error_answer(protocol::errc::method_not_allowed, version, keep_alive);

  auto decoded = decode_form(query, request.message.body());
  if (!decoded)
    co_return error_answer(protocol::errc::bad_param, version, keep_alive,
                           bad_param_msg(decoded.error().key));
  const form_params& params = *decoded;

  // Authentication, cheapest and least revealing checks first.
  const std::string* app_key = params.find("app_key");
  if (!app_key || app_key->empty())
    co_return error_answer(protocol::errc::missing_app_key, version, keep_alive);
  const engine::merchant_config* merchant = ctx_.merchants.by_app_key(*app_key);
  if (!merchant) co_return error_answer(protocol::errc::unknown_app_key, version, keep_alive);
  if (!ctx_.merchants.ip_allowed(*merchant, request.remote))
    co_return error_answer(protocol::errc::ip_not_allowed, version, keep_alive);
  const std::string* timestamp = params.find("timestamp");
  if (!timestamp || timestamp->empty())
    co_return error_answer(protocol::errc::bad_param, version, keep_alive,
                           bad_param_msg("timestamp"));
  const std::string* sign = params.find("sign");
  if (!sign || sign->empty())
    co_return error_answer(protocol::errc::bad_param, version, keep_alive, bad_param_msg("sign"));
  auto method = requested_sign_method(params);
  if (!method ||
      std::ranges::find(merchant->sign_types, *method) == merchant->sign_types.end())
    co_return error_answer(protocol::errc::bad_signature, version, keep_alive);
  if (!timestamp_within(*timestamp, server_time_s(), ctx_.cfg.security.timestamp_skew_s))
    co_return error_answer(protocol::errc::timestamp_out_of_window, version, keep_alive);
  if (!verify_sign(params, *method, merchant->app_secret, *sign))
    co_return error_answer(protocol::errc::bad_signature, version, keep_alive);
  if (!limiter_.try_acquire(merchant->id, merchant->rate_limit_rps, merchant->rate_limit_burst,
                            std::chrono::steady_clock::now(),
                            ctx_.live_instances.load(std::memory_order_relaxed)))
    co_return error_answer(protocol::errc::rate_limited, version, keep_alive);

  call c{params, *merchant, version, keep_alive,
         request.message[http::field::accept_encoding]};
  if (path == "/rest/Recharge/pushOrder") co_return co_await push_order(ctx_, c);
  if (path == "/rest/Recharge/query") co_return co_await query_order(ctx_, c);
  if (path == "/rest/User/query") co_return co_await user_query(ctx_, c);
  if (path == "/rest/Recharge/mobileInfo") co_return mobile_info(ctx_, c);
  if (path == "/rest/Recharge/cancel") co_return co_await cancel_order(ctx_, c);
  if (path == "/rest/Recharge/bill") co_return bill(ctx_, c);
  co_return co_await list_orders(ctx_, c);
}

}  // namespace topup::protocol
