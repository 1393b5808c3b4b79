#include "tests/supplier_sim/supplier_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include <charconv>
#include <random>
#include <string_view>
#include <utility>

#include "engine/config/config.hpp"
#include "engine/support/log.hpp"
#include "engine/order/money.hpp"
#include "protocol/envelope.hpp"
#include "protocol/form.hpp"
#include "protocol/signing.hpp"
#include "tests/supplier_sim/form_poster.hpp"

namespace topup::supplier_sim {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using protocol::form_params;
using protocol::http_request;
using protocol::http_response;

namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view k_json = "application/json; charset=utf-8";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t now_s() { return now_ms() / 1000; }

std::string number_prefix(std::uint64_t seed) {
  // A per-run prefix so that a restarted simulator does not hand out the numbers of its last
  // run; a fixed seed keeps them reproducible.
  std::mt19937_64 rng(seed != 0 ? seed : std::random_device{}());
  return "S" + std::to_string(100000 + rng() % 900000) + "N";
}

/// Keeps a timer known to supplier_service::stop() for exactly as long as it exists.
class timer_registration {
 public:
  timer_registration(supplier_service& svc, asio::steady_timer& timer) : svc_(svc), timer_(timer) {
    svc_.register_timer(timer_);
  }
  ~timer_registration() { svc_.unregister_timer(timer_); }
  timer_registration(const timer_registration&) = delete;
  timer_registration& operator=(const timer_registration&) = delete;

 private:
  supplier_service& svc_;
  asio::steady_timer& timer_;
};

/// Waits `delay` unless the service stops first; false when it stopped.
asio::awaitable<bool> sleep_for(std::shared_ptr<supplier_service> svc,
                                std::chrono::milliseconds delay) {
  if (svc->stopping()) co_return false;
  asio::steady_timer timer(svc->io(), delay);
  const timer_registration registration(*svc, timer);
  auto [ec] = co_await timer.async_wait(as_tuple_awaitable);
  co_return !ec && !svc->stopping();
}

void log_if_thrown(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    logger("supplier_sim")->error("background task ended by exception: {}", ex.what());
  }
}

// ---- answers --------------------------------------------------------------------------------

http_response envelope_answer(std::string_view code, std::string_view msg,
                              const boost::json::value& data, const http_request& req) {
  return protocol::make_response(http::status::ok,
                                 protocol::make_envelope(code, msg, now_s(), data), k_json,
                                 req.message.version(), req.message.keep_alive());
}

http_response error_answer(std::string_view code, std::string_view msg, const http_request& req) {
  return envelope_answer(code, msg, nullptr, req);
}

http_response plain_answer(http::status status, std::string body, const http_request& req) {
  return protocol::make_response(status, std::move(body), "text/plain; charset=utf-8",
                                 req.message.version(), req.message.keep_alive());
}

http_response bad_param(std::string_view key, const http_request& req) {
  return error_answer("1001", "parameter missing or malformed: " + std::string(key), req);
}

// ---- authentication (spec §2) ---------------------------------------------------------------

/// The answer refusing `params`, or nullopt when app_key, timestamp and sign check out.
std::optional<http_response> authenticate(const supplier_service& svc, const form_params& params,
                                          const http_request& req) {
  const std::string* app_key = params.find("app_key");
  if (!app_key || app_key->empty()) return error_answer("1003", "app_key不能为空", req);
  if (*app_key != svc.options().app_key) return error_answer("1005", "unknown app_key", req);
  const std::string* timestamp = params.find("timestamp");
  if (!timestamp || timestamp->empty()) return bad_param("timestamp", req);
  const std::string* sign = params.find("sign");
  if (!sign || sign->empty()) return bad_param("sign", req);
  const auto method = protocol::requested_sign_method(params);
  if (!method) return error_answer("1002", "签名错误", req);
  if (!protocol::timestamp_within(*timestamp, now_s(), svc.options().timestamp_skew_s))
    return error_answer("1004", "timestamp outside the allowed window", req);
  if (!protocol::verify_sign(params, *method, svc.options().app_secret, *sign))
    return error_answer("1002", "签名错误", req);
  return std::nullopt;
}

// ---- pushOrder ------------------------------------------------------------------------------

bool valid_mobile(std::string_view m) {
  if (m.size() != 11 || m[0] != '1' || m[1] < '3' || m[1] > '9') return false;
  for (char c : m)
    if (c < '0' || c > '9') return false;
  return true;
}

bool valid_order_no(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

/// A plain positive decimal integer without a leading zero, up to 100000 yuan.
std::optional<std::int64_t> parse_money(std::string_view s) {
  if (s.empty() || s.size() > 6 || s[0] == '0') return std::nullopt;
  std::int64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > 100000) return std::nullopt;
  return value;
}

/// What the push coroutine must do besides answering.
struct push_plan {
  http_response response;
  std::string settle_order_no;               // non-empty: a new order was placed, settle it
  std::chrono::milliseconds answer_delay{};  // slow, timeout_placed, timeout_lost
};

boost::json::value push_data(const placed_order& order) {
  boost::json::object data;
  data["order_number"] = order.order_number;
  return data;
}

push_plan plan_push(supplier_service& svc, const form_params& params, const http_request& req) {
  push_plan plan;
  if (auto refused = authenticate(svc, params, req)) {
    plan.response = std::move(*refused);
    return plan;
  }
  placed_order order;
  const std::string* store_id = params.find("store_id");
  if (!store_id || store_id->empty()) {
    plan.response = bad_param("store_id", req);
    return plan;
  }
  if (!svc.options().store_id.empty() && *store_id != svc.options().store_id) {
    plan.response = error_answer("1006", "store_id not allowed", req);
    return plan;
  }
  order.store_id = *store_id;
  const std::string* mobile = params.find("mobile");
  if (!mobile || mobile->empty()) {
    plan.response = bad_param("mobile", req);
    return plan;
  }
  if (!valid_mobile(*mobile)) {
    plan.response = error_answer("2001", "invalid mobile number", req);
    return plan;
  }
  order.mobile = *mobile;
  const std::string* order_no = params.find("order_no");
  if (!order_no || !valid_order_no(*order_no)) {
    plan.response = bad_param("order_no", req);
    return plan;
  }
  order.order_no = *order_no;
  const std::string* money = params.find("money");
  if (!money || money->empty()) {
    plan.response = bad_param("money", req);
    return plan;
  }
  const auto money_yuan = parse_money(*money);
  if (!money_yuan) {
    plan.response = error_answer("2002", "unsupported amount", req);
    return plan;
  }
  order.money_yuan = *money_yuan;
  const std::string* recharge_type = params.find("recharge_type");
  if (!recharge_type || (*recharge_type != "0" && *recharge_type != "1")) {
    plan.response = bad_param("recharge_type", req);
    return plan;
  }
  order.recharge_type = *recharge_type == "1" ? 1 : 0;
  if (const std::string* notify_url = params.find("notify_url");
      notify_url && !notify_url->empty()) {
    if (notify_url->size() > 512 || !engine::is_http_url(*notify_url)) {
      plan.response = error_answer("2006", "invalid notify_url", req);
      return plan;
    }
    order.notify_url = *notify_url;
  }

  // An order already placed is answered as placed, whatever the mode is now; only the first
  // push of an order_no takes (or draws) a mode.
  const bool first_push = !svc.book().find_by_order_no(order.order_no);
  const sim_mode mode = first_push ? svc.mode_for_new_order() : sim_mode::succeed;
  if (first_push && !places_order(mode)) {
    svc.book().note_unplaced(order.order_no, mode, now_ms());
    switch (mode) {
      case sim_mode::http500:
        plan.response = plain_answer(http::status::internal_server_error, "internal error\n", req);
        break;
      case sim_mode::timeout_lost:
        // The request got lost on the supplier's side: the pusher times out long before this.
        plan.response = plain_answer(http::status::gateway_timeout, "gateway timeout\n", req);
        plan.answer_delay = svc.options().slow;
        break;
      case sim_mode::bad_json:
        // Broken JSON that a careless parser could still read as a success.
        plan.response = protocol::make_response(
            http::status::ok, R"({"code":"0000","msg":"推送成功",,"data":{"order_number":}})",
            k_json, req.message.version(), req.message.keep_alive());
        break;
      default:
        plan.response = error_answer("2005", "no channel can serve this order", req);
        break;
    }
    return plan;
  }
  order.mode = mode;
  const auto placed = svc.book().place(std::move(order), now_ms());
  switch (placed.verdict) {
    case supplier_book::place_verdict::conflict:
      plan.response = error_answer("2003", "order_no already used with other parameters", req);
      return plan;
    case supplier_book::place_verdict::full:
      plan.response = error_answer("5001", "internal error: order book full", req);
      return plan;
    case supplier_book::place_verdict::repeat:
      plan.response = envelope_answer("0000", "推送成功", push_data(*placed.order), req);
      return plan;
    case supplier_book::place_verdict::placed:
      break;
  }
  plan.settle_order_no = placed.order->order_no;
  switch (mode) {
    case sim_mode::malformed: {
      // Cut in the middle of the envelope: the order exists, the answer says nothing usable.
      std::string whole =
          protocol::make_envelope("0000", "推送成功", now_s(), push_data(*placed.order));
      whole.resize(whole.size() / 2);
      plan.response = protocol::make_response(http::status::ok, std::move(whole), k_json,
                                              req.message.version(), req.message.keep_alive());
      return plan;
    }
    case sim_mode::http500_placed:
      // Taken, then the answer was lost behind the supplier's own proxy.
      plan.response = plain_answer(http::status::internal_server_error, "internal error\n", req);
      return plan;
    case sim_mode::timeout_placed:
      plan.answer_delay = svc.options().slow;
      break;
    case sim_mode::slow:
      plan.answer_delay = svc.options().slow_answer;
      break;
    default:
      break;
  }
  plan.response = envelope_answer("0000", "推送成功", push_data(*placed.order), req);
  return plan;
}

// ---- query ----------------------------------------------------------------------------------

boost::json::value order_data(const placed_order& order) {
  boost::json::object o;
  o["order_number"] = order.order_number;
  o["order_no"] = order.order_no;
  o["status"] = std::to_string(order.status);
  o["mobile"] = order.mobile;
  o["amount"] = std::to_string(order.money_yuan);
  o["cost"] = engine::format_fen(order.money_yuan * 100);
  o["created_at"] = std::to_string(order.created_at_s);
  o["finished_at"] = order.finished_at_s > 0 ? std::to_string(order.finished_at_s) : "";
  o["reason"] = order.reason;
  return o;
}

http_response answer_query(supplier_service& svc, const form_params& params,
                           const http_request& req) {
  if (auto refused = authenticate(svc, params, req)) return std::move(*refused);
  const std::string* order_number = params.find("order_number");
  const std::string* order_no = params.find("order_no");
  const placed_order* order = nullptr;
  if (order_number && !order_number->empty()) {
    order = svc.book().find_by_order_number(*order_number);
  } else if (order_no && !order_no->empty()) {
    order = svc.book().find_by_order_no(*order_no);
  } else {
    return bad_param("order_no", req);
  }
  if (!order) return error_answer("3001", "order not found", req);
  return envelope_answer("0000", "获取成功", order_data(*order), req);
}

// ---- settlement and callbacks ---------------------------------------------------------------

bool calls_back(sim_mode mode) {
  return mode != sim_mode::no_callback && mode != sim_mode::malformed;
}

/// The form body of the result callback of `order` (spec §5 fields), signed with the secret, or
/// with a wrong one in the forged modes (forged_success also claims a success that is not).
std::string callback_body(const supplier_service& svc, const placed_order& order,
                          int status) {
  const bool forged =
      order.mode == sim_mode::forged_callback || order.mode == sim_mode::forged_success;
  form_params form;
  form.insert("order_no", order.order_no);
  form.insert("order_number", order.order_number);
  form.insert("status", order.mode == sim_mode::forged_success ? std::string("2")
                                                               : std::to_string(status));
  form.insert("amount", std::to_string(order.money_yuan));
  form.insert("mobile", order.mobile);
  form.insert("timestamp", std::to_string(now_s()));
  std::string secret = svc.options().app_secret;
  if (forged) secret += "-forged";
  form.insert("sign", protocol::sign_params(form, engine::sign_method::md5, secret));
  return protocol::form_encode(form);
}

bool is_success_body(std::string_view body) {
  constexpr std::string_view spaces = " \t\r\n";
  const auto first = body.find_first_not_of(spaces);
  if (first == std::string_view::npos) return false;
  const auto last = body.find_last_not_of(spaces);
  return body.substr(first, last - first + 1) == "success";
}

asio::awaitable<void> send_callback(std::shared_ptr<supplier_service> svc, std::string url,
                                    std::string body, std::string order_no) {
  svc->book().count_callback_sent();
  auto result = co_await post_form(svc->io(), std::move(url), std::move(body),
                                   svc->options().callback_timeout);
  if (!result.ec && result.status == 200 && is_success_body(result.body)) {
    svc->book().count_callback_ack();
  } else if (result.ec) {
    logger("supplier_sim")
        ->warn("callback order_no={} not delivered: {}", order_no, result.ec.message());
  } else {
    logger("supplier_sim")
        ->debug("callback order_no={} not acknowledged: http={} body={:.64}", order_no,
                result.status, result.body);
  }
}

/// After the callback delay: the order reaches its final status, then (by its mode) the
/// callback goes to its notify_url, once or twice. One shot per copy, no retries: the pusher
/// learns the truth by query whatever happens to a callback.
asio::awaitable<void> settle(std::shared_ptr<supplier_service> svc, std::string order_no) {
  if (const placed_order* charging = svc->book().find_by_order_no(order_no);
      charging && charging->mode == sim_mode::charging_callback && !charging->notify_url.empty()) {
    // Still delivering: "charging" and statuses outside spec §4's finals, each signed right.
    const std::string url = charging->notify_url;
    for (int status : {1, 0, 6, 7, 9}) {
      const placed_order* order = svc->book().find_by_order_no(order_no);
      if (!order || svc->stopping()) co_return;
      co_await send_callback(svc, url, callback_body(*svc, *order, status), order_no);
    }
  }
  if (!co_await sleep_for(svc, svc->options().callback_delay)) co_return;
  placed_order* order = svc->book().find_by_order_no(order_no);
  if (!order) co_return;
  const bool delivered = order->mode != sim_mode::fail && order->mode != sim_mode::forged_success;
  svc->book().finish(*order, delivered, now_ms());
  if (!calls_back(order->mode) || order->notify_url.empty()) co_return;
  const int copies = order->mode == sim_mode::duplicate_callback ? 2 : 1;
  const std::string url = order->notify_url;
  for (int copy = 0; copy < copies && !svc->stopping(); ++copy) {
    co_await send_callback(svc, url, callback_body(*svc, *order, order->status), order_no);
  }
}

// ---- dispatch -------------------------------------------------------------------------------

struct split_target {
  std::string_view path;
  std::string_view query;
};

split_target split(std::string_view target) {
  const auto mark = target.find('?');
  if (mark == std::string_view::npos) return {target, {}};
  return {target.substr(0, mark), target.substr(mark + 1)};
}

http_response change_mode(supplier_service& svc, const form_params& params,
                          const http_request& req) {
  const std::string* name = params.find("mode");
  boost::json::object data;
  if (name && *name == "mix") {
    const std::string* weights = params.find("weights");
    // `seed` (optional) starts the draws afresh; else the command line's --seed.
    std::uint64_t seed = svc.options().seed;
    if (const std::string* text = params.find("seed")) {
      const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seed);
      if (ec != std::errc() || end != text->data() + text->size()) weights = nullptr;
    }
    auto mix = weights ? mode_mix::parse(*weights, seed) : std::nullopt;
    if (!mix) {
      return plain_answer(http::status::bad_request,
                          "mode=mix needs weights=name:weight,… and an optional numeric seed; "
                          "modes: " +
                              mode_names() + "\n",
                          req);
    }
    logger("supplier_sim")->info("mode=mix weights={}", mix->describe());
    data["weights"] = mix->describe();
    svc.set_mix(std::move(*mix));
  } else {
    const auto mode = name ? mode_from_name(*name) : std::nullopt;
    if (!mode) {
      return plain_answer(http::status::bad_request,
                          "unknown mode; known: " + mode_names() + ", mix\n", req);
    }
    svc.set_mode(*mode);
    logger("supplier_sim")->info("mode={}", mode_name(*mode));
  }
  data["mode"] = svc.mode_label();
  return envelope_answer("0000", "ok", data, req);
}

/// The answer for everything but a placed order's push; `plan.settle_order_no` and `slow`
/// are set only by pushOrder.
push_plan route(supplier_service& svc, const http_request& req) {
  push_plan plan;
  const auto [path, query] = split(req.message.target());
  const auto method = req.message.method();
  const bool known = path == "/rest/Recharge/pushOrder" || path == "/rest/Recharge/query" ||
                     path == "/control/mode" || path == "/stats" || path == "/orders" ||
                     path == "/healthz";
  if (!known) {
    plan.response = plain_answer(http::status::not_found, "not found\n", req);
    return plan;
  }
  const bool wants_get = path == "/stats" || path == "/orders" || path == "/healthz";
  if (method != (wants_get ? http::verb::get : http::verb::post)) {
    plan.response = plain_answer(http::status::method_not_allowed, "method not allowed\n", req);
    return plan;
  }
  if (path == "/healthz") {
    plan.response = plain_answer(http::status::ok, "ok", req);
    return plan;
  }
  if (path == "/stats") {
    plan.response =
        protocol::make_response(http::status::ok, svc.book().stats_json(svc.mode_label()), k_json,
                                req.message.version(), req.message.keep_alive());
    return plan;
  }
  if (path == "/orders") {
    plan.response = protocol::make_response(http::status::ok, svc.book().orders_json(), k_json,
                                            req.message.version(), req.message.keep_alive());
    return plan;
  }
  auto params = protocol::decode_form(query, req.message.body());
  if (!params) {
    plan.response = bad_param(params.error().key, req);
    return plan;
  }
  if (path == "/control/mode") {
    plan.response = change_mode(svc, *params, req);
  } else if (path == "/rest/Recharge/query") {
    plan.response = answer_query(svc, *params, req);
  } else {
    plan = plan_push(svc, *params, req);
  }
  return plan;
}

}  // namespace

supplier_service::supplier_service(asio::io_context& io, supplier_options options)
    : io_(io),
      options_(std::move(options)),
      mode_(options_.mode),
      book_(number_prefix(options_.seed)) {
  // main() checked the text already; a mix in force from the start overrides --mode.
  if (!options_.mix.empty()) mix_ = mode_mix::parse(options_.mix, options_.seed);
}

void supplier_service::stop() {
  stopping_ = true;
  for (auto* timer : timers_) timer->cancel();
}

asio::awaitable<http_response> handle_request(std::shared_ptr<supplier_service> service,
                                              http_request request) {
  push_plan plan = route(*service, request);
  if (!plan.settle_order_no.empty()) {
    asio::co_spawn(service->io(), settle(service, plan.settle_order_no), log_if_thrown);
  }
  if (plan.answer_delay.count() > 0) {
    // A placed order is placed already: the pusher may time out, then learns the truth by query
    // or callback.
    co_await sleep_for(service, plan.answer_delay);
  }
  co_return std::move(plan.response);
}

}  // namespace topup::supplier_sim
