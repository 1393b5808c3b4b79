#include "protocol/admin_api.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <charconv>

#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "engine/order/money.hpp"
#include "engine/order/order_number.hpp"
#include "engine/retention/business_day.hpp"
#include "protocol/admin_console.hpp"
#include "protocol/answers.hpp"
#include "protocol/errc.hpp"
#include "protocol/form.hpp"
#include "protocol/statement_download.hpp"
#include "protocol/wire_codes.hpp"

namespace topup::protocol {

namespace {

using digest = std::array<unsigned char, 32>;

digest sha256(std::string_view data) {
  digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

/// Splits "/admin/<a>/<b>/<c>" into its segments after "/admin/".
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(std::string_view("/admin/").size());
  while (!path.empty()) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool valid_ref(std::string_view ref) {
  if (ref.empty() || ref.size() > 128) return false;
  for (unsigned char c : ref)
    if (c <= 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

admin_api::admin_api(api_context& ctx) : ctx_(ctx) {
  for (const auto& op : ctx_.cfg.admin.operators) token_digests_.push_back(sha256(op.token));
}

const engine::admin_operator* admin_api::authenticate(const http_request& request) const {
  auto header = request.message[http::field::authorization];
  constexpr std::string_view k_bearer = "Bearer ";
  if (!header.starts_with(k_bearer)) return nullptr;
  // Comparing digests keeps the comparison constant-time whatever the presented length.
  const digest presented = sha256(header.substr(k_bearer.size()));
  const engine::admin_operator* found = nullptr;
  for (std::size_t i = 0; i < token_digests_.size(); ++i) {
    const bool same =
        CRYPTO_memcmp(presented.data(), token_digests_[i].data(), presented.size()) == 0;
    if (same) found = &ctx_.cfg.admin.operators[i];
  }
  return found;
}

boost::asio::awaitable<http_response> admin_api::handle(http_request request,
                                                        std::string_view path,
                                                        std::string_view query) {
  const unsigned version = request.message.version();
  const bool keep_alive = request.message.keep_alive();
  const auto method = request.message.method();
  auto fail = [&](boost::system::error_code ec, std::string_view msg = {}) {
    return error_answer(ec, version, keep_alive, msg);
  };
  // The console's files: no token (they hold no secret; the console asks for one).
  if (method == http::verb::get) {
    if (auto file = console_file_answer(path.substr(std::string_view("/admin/").size()), version,
                                        keep_alive))
      co_return std::move(*file);
  }
  auto seg = segments(path);

  // Route first (404/405 are not secrets), then authenticate, then the role.
  enum class route {
    credit, order_get, order_notify, order_settle, channel_switch, blacklist, statement, exceptions,
    summary, merchants
  } which;
  http::verb wanted;
  if (seg.size() == 3 && seg[0] == "merchants" && seg[2] == "credit") {
    which = route::credit, wanted = http::verb::post;
  } else if (seg.size() == 4 && seg[0] == "merchants" && seg[2] == "statements") {
    which = route::statement, wanted = http::verb::get;
  } else if (seg.size() == 2 && seg[0] == "orders") {
    which = route::order_get, wanted = http::verb::get;
  } else if (seg.size() == 3 && seg[0] == "orders" && seg[2] == "notify") {
    which = route::order_notify, wanted = http::verb::post;
  } else if (seg.size() == 3 && seg[0] == "orders" && seg[2] == "settle") {
    which = route::order_settle, wanted = http::verb::post;
  } else if (seg.size() == 1 && seg[0] == "exceptions") {
    which = route::exceptions, wanted = http::verb::get;
  } else if (seg.size() == 1 && seg[0] == "summary") {
    which = route::summary, wanted = http::verb::get;
  } else if (seg.size() == 1 && seg[0] == "merchants") {
    which = route::merchants, wanted = http::verb::get;
  } else if (seg.size() == 3 && seg[0] == "channels" && (seg[2] == "disable" || seg[2] == "enable")) {
    which = route::channel_switch, wanted = http::verb::post;
  } else if (seg.size() == 2 && seg[0] == "risk" && seg[1] == "blacklist") {
    which = route::blacklist, wanted = method == http::verb::get ? http::verb::get : http::verb::post;
  } else {
    co_return fail(protocol::errc::not_found);
  }
  if (method != wanted) co_return fail(protocol::errc::method_not_allowed);
  const engine::admin_operator* op = authenticate(request);
  if (!op) co_return fail(protocol::errc::bad_admin_token);
  // Every operator reads; credit is finance's, every other change operator's (spec §7).
  const bool changes = method != http::verb::get;
  if (changes && !(which == route::credit ? op->credit : op->operate))
    co_return fail(protocol::errc::forbidden);
  // Every change is recorded with who made it: this line, and the event where it has one.
  if (changes)
    logger("protocol")->info("admin operator={} {} {}", op->name, http::to_string(method), path);

  switch (which) {
    case route::summary:
      co_return success_answer("获取成功", summary_json(ctx_), version, keep_alive);
    case route::merchants: {
      auto listed = co_await merchants_json(ctx_);
      if (!listed) co_return fail(listed.error());
      co_return success_answer("获取成功", std::move(*listed), version, keep_alive);
    }
    case route::credit: {
      std::int64_t merchant_id = 0;
      auto [end, ec] = std::from_chars(seg[1].data(), seg[1].data() + seg[1].size(), merchant_id);
      if (ec != std::errc{} || end != seg[1].data() + seg[1].size() ||
          !ctx_.merchants.by_id(merchant_id))
        co_return fail(engine::errc::unknown_merchant);
      auto params = decode_form(query, request.message.body());
      if (!params) co_return fail(protocol::errc::bad_param, bad_param_msg(params.error().key));
      const std::string* amount_text = params->find("amount");
      const std::string* ref = params->find("ref");
      std::optional<engine::fen_t> amount;
      if (amount_text) amount = engine::parse_yuan(*amount_text);
      if (!amount || *amount == 0) co_return fail(protocol::errc::bad_param, bad_param_msg("amount"));
      if (!ref || !valid_ref(*ref)) co_return fail(protocol::errc::bad_param, bad_param_msg("ref"));
      auto credited = co_await ctx_.operations.credit(merchant_id, *ref, *amount, op->name);
      if (!credited && credited.error() == engine::errc::order_no_conflict)
        co_return fail(credited.error(), "ref已使用，金额不同");  // spec §7: 2003, nothing moved
      if (!credited) co_return fail(credited.error());
      boost::json::object data;
      data["money"] = engine::format_fen(credited->balance_fen);
      data["repeat"] = credited->repeat;
      co_return success_answer("充值成功", std::move(data), version, keep_alive);
    }
    case route::statement: {
      // Any operator reads (viewer). An unknown merchant id: 3001, there is nothing to find
      // (spec §3.7's "not found"), with its own msg so an operator sees the typo.
      std::int64_t merchant_id = 0;
      auto [end, ec] = std::from_chars(seg[1].data(), seg[1].data() + seg[1].size(), merchant_id);
      if (ec != std::errc{} || end != seg[1].data() + seg[1].size() ||
          !ctx_.merchants.by_id(merchant_id))
        co_return fail(engine::errc::order_not_found, "商户不存在");
      co_return statement_answer(ctx_.cfg.statements, merchant_id, seg[3],
                                 request.message[http::field::accept_encoding], version,
                                 keep_alive);
    }
    case route::order_get: {
      const std::string order_number(seg[1]);
      auto parts = engine::parse_order_number(order_number);
      if (!parts) co_return fail(engine::errc::order_not_found);
      auto order = co_await ctx_.store.get(parts->merchant_id, order_number);
      if (!order) co_return fail(order.error());
      auto events = co_await ctx_.store.events(parts->merchant_id, order_number);
      if (!events) co_return fail(events.error());
      boost::json::object data = order_json(*order);
      data["merchant_id"] = order->merchant_id;
      data["store_id"] = order->store_id;
      data["carrier"] = engine::carrier_code(order->carrier);
      data["recharge_type"] = order->recharge_type;
      data["notify_url"] = order->notify_url;
      data["change"] = order->change;
      data["source"] = order->source;
      data["cost_fen"] = order->cost_fen;
      data["updated_at_ms"] = order->updated_at_ms;
      // Operators see why in the engine's and the supplier's own words; merchants, reason above.
      data["detail"] = order->reason;
      boost::json::object extra;
      for (const auto& [k, v] : order->named_fields()) extra[k] = v;
      data["extra"] = std::move(extra);
      boost::json::array history;
      for (const auto& ev : *events) {
        boost::json::object e;
        e["id"] = ev.id;
        for (const auto& [k, v] : ev.fields) e[k] = v;
        history.push_back(std::move(e));
      }
      data["events"] = std::move(history);
      auto attempts = co_await ctx_.callbacks.attempts(parts->merchant_id, order_number);
      if (!attempts) co_return fail(attempts.error());
      boost::json::array deliveries;
      for (const auto& a : *attempts) {
        boost::json::object d;
        d["attempt"] = a.attempt;
        d["at_ms"] = a.at_ms;
        d["http_status"] = a.http_status;
        d["body"] = a.body_excerpt;
        d["error"] = a.error;
        d["delivered"] = a.delivered;
        deliveries.push_back(std::move(d));
      }
      data["callbacks"] = std::move(deliveries);
      co_return success_answer("获取成功", std::move(data), version, keep_alive);
    }
    case route::order_notify: {
      const std::string order_number(seg[1]);
      auto armed = co_await ctx_.operations.renotify(order_number, op->name);
      if (!armed) {
        if (armed.error() == engine::errc::cannot_cancel)
          co_return fail(protocol::errc::bad_param, "订单未完成或没有回调地址");
        co_return fail(armed.error());
      }
      boost::json::object data;
      data["order_number"] = order_number;
      data["cb_status"] = "pending";
      co_return success_answer("已重新通知", std::move(data), version, keep_alive);
    }
    case route::exceptions: {
      auto params = decode_form(query, request.message.body());
      if (!params) co_return fail(protocol::errc::bad_param, bad_param_msg(params.error().key));
      engine::exception_filter filter;
      if (const auto* k = params->find("kind")) {
        filter.kind = engine::parse_exception_kind(*k);
        if (!filter.kind) co_return fail(protocol::errc::bad_param, bad_param_msg("kind"));
      }
      if (const auto* m = params->find("merchant")) {
        filter.merchant_id = parse_int(*m);
        if (!filter.merchant_id) co_return fail(protocol::errc::bad_param, bad_param_msg("merchant"));
      }
      if (const auto* c = params->find("channel")) filter.channel = *c;
      std::int64_t page = 1, page_size = 20;
      if (const auto* p = params->find("page")) {
        auto n = parse_int(*p);
        if (!n || *n < 1 || *n > 1'000'000) co_return fail(protocol::errc::bad_param, bad_param_msg("page"));
        page = *n;
      }
      if (const auto* p = params->find("page_size")) {
        auto n = parse_int(*p);
        if (!n || *n < 1 || *n > 100) co_return fail(protocol::errc::bad_param, bad_param_msg("page_size"));
        page_size = *n;
      }
      auto listed = co_await ctx_.operations.exceptions(std::move(filter), page, page_size);
      if (!listed) co_return fail(listed.error());
      boost::json::array list;
      for (const auto& e : listed->entries) {
        boost::json::object o;
        o["order_number"] = e.order.order_number;
        o["merchant_id"] = e.order.merchant_id;
        o["kind"] = engine::exception_kind_name(e.entry.kind);
        o["since_ms"] = e.entry.since_ms;
        o["since"] = engine::format_local_time(e.entry.since_ms, ctx_.cfg.statements.offset_s);
        o["channel"] = e.order.attempt.channel;
        o["status"] = engine::to_int(e.order.status);
        o["detail"] = e.entry.detail;
        o["settleable"] = engine::settleable(e.entry.kind);
        list.push_back(std::move(o));
      }
      boost::json::object data;
      data["total"] = listed->total;
      data["page"] = page;
      data["list"] = std::move(list);
      co_return success_answer("获取成功", std::move(data), version, keep_alive);
    }
    case route::order_settle: {
      const std::string order_number(seg[1]);
      auto params = decode_form(query, request.message.body());
      if (!params) co_return fail(protocol::errc::bad_param, bad_param_msg(params.error().key));
      const std::string* result = params->find("result");
      const std::string* evidence = params->find("evidence");
      if (!result || (*result != "success" && *result != "failed"))
        co_return fail(protocol::errc::bad_param, bad_param_msg("result"));
      if (!evidence || evidence->empty() || evidence->size() > engine::k_evidence_max)
        co_return fail(protocol::errc::bad_param, bad_param_msg("evidence"));
      engine::manual_settlement s;
      s.success = *result == "success";
      s.by = op->name;
      s.evidence = *evidence;
      auto settled = co_await ctx_.operations.settle(order_number, std::move(s));
      if (!settled) co_return fail(settled.error());
      // Refused: nothing was written; 2007 ("not in its current status"), with why.
      switch (settled->refused) {
        case engine::settle_refusal::none: break;
        case engine::settle_refusal::final_already:
          co_return fail(engine::errc::cannot_cancel, "订单已是最终状态，不能再处理");
        case engine::settle_refusal::not_listed:
          co_return fail(engine::errc::cannot_cancel, "订单不在异常队列中");
        case engine::settle_refusal::never_submitted:
          co_return fail(engine::errc::cannot_cancel, "订单从未提交渠道，只能处理为失败");
      }
      boost::json::object data = order_json(settled->order);
      data["settled_as"] = *result;
      data["by"] = op->name;
      co_return success_answer("已处理", std::move(data), version, keep_alive);
    }
    case route::blacklist: {
      if (method == http::verb::get) {
        auto read = co_await ctx_.store.blacklist();
        if (!read) co_return fail(read.error());
        std::sort(read->mobiles.begin(), read->mobiles.end());
        boost::json::array mobiles;
        for (auto& m : read->mobiles) mobiles.emplace_back(std::move(m));
        boost::json::object data;
        data["mobiles"] = std::move(mobiles);
        data["version"] = read->version;
        co_return success_answer("获取成功", std::move(data), version, keep_alive);
      }
      auto params = decode_form(query, request.message.body());
      if (!params) co_return fail(protocol::errc::bad_param, bad_param_msg(params.error().key));
      const std::string* mobile = params->find("mobile");
      const std::string* action = params->find("action");
      if (!mobile) co_return fail(protocol::errc::bad_param, bad_param_msg("mobile"));
      if (!action || (*action != "add" && *action != "remove"))
        co_return fail(protocol::errc::bad_param, bad_param_msg("action"));
      const bool add = *action == "add";
      auto changed = co_await ctx_.operations.change_blacklist(*mobile, add);
      if (!changed) co_return fail(changed.error());
      boost::json::object data;
      data["mobile"] = *mobile;
      data["action"] = *action;
      data["version"] = *changed;
      co_return success_answer(add ? "已加入黑名单" : "已移出黑名单", std::move(data), version,
                               keep_alive);
    }
    case route::channel_switch: {
      const std::string id(seg[1]);
      const bool enable = seg[2] == "enable";
      auto switched = co_await ctx_.operations.switch_channel(id, enable);
      if (!switched) co_return fail(switched.error());
      boost::json::object data;
      data["channel"] = id;
      data["enabled"] = enable;
      co_return success_answer(enable ? "已启用" : "已停用", std::move(data), version, keep_alive);
    }
  }
  co_return fail(protocol::errc::not_found);
}

}  // namespace topup::protocol
