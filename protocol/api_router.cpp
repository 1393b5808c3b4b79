#include "protocol/api_router.hpp"

#include "protocol/answers.hpp"
#include "protocol/errc.hpp"
#include "protocol/supplier_notify.hpp"

namespace topup::protocol {

namespace {

http_response metrics_answer(const api_context& ctx, http::verb method, unsigned version,
                             bool keep_alive) {
  if (method != http::verb::get) return error_answer(errc::method_not_allowed, version, keep_alive);
  return make_response(http::status::ok, ctx.metrics.render(),
                       "text/plain; version=0.0.4; charset=utf-8", version, keep_alive);
}

}  // namespace

boost::asio::awaitable<http_response> api_router::handle_metrics_listener(http_request request) {
  const std::string_view target = request.message.target();
  const unsigned version = request.message.version();
  const bool keep_alive = request.message.keep_alive();
  if (target.substr(0, target.find('?')) != "/metrics")
    co_return error_answer(errc::not_found, version, keep_alive);
  co_return metrics_answer(ctx_, request.message.method(), version, keep_alive);
}

boost::asio::awaitable<http_response> api_router::handle(http_request request) {
  std::string_view target = request.message.target();
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view query =
      path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view{};
  const unsigned version = request.message.version();
  const bool keep_alive = request.message.keep_alive();
  const auto method = request.message.method();

  if (path == "/healthz" || path == "/readyz") {
    if (method != http::verb::get && method != http::verb::head)
      co_return error_answer(errc::method_not_allowed, version, keep_alive);
    http_response res;
    if (path == "/healthz") {
      res = make_response(http::status::ok, "ok\n", "text/plain", version, keep_alive);
    } else {
      const bool ready = ctx_.storage_ready();
      res = make_response(ready ? http::status::ok : http::status::service_unavailable,
                          ready ? "ready\n" : "storage unavailable\n", "text/plain", version,
                          keep_alive);
    }
    // Which shard answered: lets operators and tests see that every reactor serves.
    res.set("X-Topup-Shard", std::to_string(ctx_.shard));
    co_return res;
  }
  // With server.metrics_listen set, /metrics lives only there (spec §7): an unknown path here.
  if (path == "/metrics" && ctx_.cfg.server.metrics_listen.empty())
    co_return metrics_answer(ctx_, method, version, keep_alive);
  if (merchant_api::handles(path)) co_return co_await merchant_.handle(std::move(request), path, query);
  if (path.starts_with("/notify/"))
    co_return co_await handle_supplier_notify(ctx_, std::move(request), path.substr(8), query);
  if (path == "/admin" && method == http::verb::get) {  // the console's address, typed short
    auto res = make_response(http::status::moved_permanently, "", "text/plain", version, keep_alive);
    res.set(http::field::location, "/admin/");
    co_return res;
  }
  if (path.starts_with("/admin/")) co_return co_await admin_.handle(std::move(request), path, query);
  co_return error_answer(errc::not_found, version, keep_alive);
}

}  // namespace topup::protocol
