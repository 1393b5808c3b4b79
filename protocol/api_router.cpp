#include "protocol/api_router.hpp"

#include "protocol/answers.hpp"
#include "protocol/errc.hpp"
#include "protocol/supplier_notify.hpp"

namespace topup::protocol {

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
  if (path == "/metrics") {
    if (method != http::verb::get) co_return error_answer(errc::method_not_allowed, version, keep_alive);
    co_return make_response(http::status::ok, ctx_.metrics ? ctx_.metrics->render() : std::string(),
                            "text/plain; version=0.0.4; charset=utf-8", version, keep_alive);
  }
  if (merchant_api::handles(path)) co_return co_await merchant_.handle(std::move(request), path, query);
  if (path.starts_with("/notify/"))
    co_return co_await handle_supplier_notify(ctx_, std::move(request), path.substr(8), query);
  if (path.starts_with("/admin/")) co_return co_await admin_.handle(std::move(request), path, query);
  co_return error_answer(errc::not_found, version, keep_alive);
}

}  // namespace topup::protocol
