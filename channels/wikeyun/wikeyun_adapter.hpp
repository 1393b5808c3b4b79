#pragma once
// The `wikeyun` channel kind (spec §6): a supplier that speaks this project's own merchant
// protocol (spec §2-§5), with topupd as its merchant. So one topupd can be another's supplier.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "channels/channel_kinds.hpp"
#include "engine/routing/channel_adapter.hpp"
#include "engine/config/config.hpp"
#include "protocol/http_client.hpp"

namespace topup::channels {

/// One `wikeyun` channel as one shard uses it: its own http_client (keep-alive connections to
/// the supplier, private targets allowed since operators configure supplier URLs), on that
/// shard's thread only.
///
/// - submit(): POST <url>/rest/Recharge/pushOrder, MD5-signed with the channel's app_secret,
///   order_no = the attempt id, notify_url = <public_url>/notify/<channel id>. Sent once, never
///   re-sent by the HTTP layer. `0000` is accepted; another four-digit code is a definite
///   refusal, except 5001 (internal error: the supplier may have stored the order before
///   failing) and 2003 (that order_no already exists there with other parameters: some order
///   with our attempt id is at the supplier, perhaps ours, so nothing is definite), which are
///   unknown like timeouts, transport errors, HTTP statuses other than 200 and answers that are
///   not a well-formed envelope. A submit never reports succeeded or failed.
/// - query(): POST <url>/rest/Recharge/query by order_no. `0000` with data.status 2 is
///   succeeded, 3 or 4 failed (with the supplier's reason), 0/1/6/7 pending; code 3001 is
///   not_found; anything else is unknown. An answer about another order_no is unknown.
/// - parse_callback(): the supplier's POST /notify/<channel id> (spec §5 fields), signed with the
///   channel secret by the method its `sign_type` names (any case), or without one: MD5 when the
///   sign has 32 hex characters, HMAC-SHA256 when 64. Hex in either case. Status 2 succeeded,
///   3/4 failed, others pending.
///
/// The state is shared with running submits and queries, so destroying the adapter while one is
/// suspended is safe; close() makes them end promptly (as unknown).
class wikeyun_adapter final : public engine::channel_adapter {
 public:
  /// `public_url` is server.public_url (its trailing '/' is ignored).
  wikeyun_adapter(const engine::channel_config& config, boost::asio::io_context& io,
                  std::string public_url);
  /// Same, with explicit HTTP client options (tests).
  wikeyun_adapter(const engine::channel_config& config, boost::asio::io_context& io,
                  std::string public_url, protocol::http_client_options http_options);
  ~wikeyun_adapter() override;
  wikeyun_adapter(const wikeyun_adapter&) = delete;
  wikeyun_adapter& operator=(const wikeyun_adapter&) = delete;

  const engine::channel_config& config() const noexcept override;
  boost::asio::awaitable<engine::attempt_result> submit(engine::attempt_request request) override;
  boost::asio::awaitable<engine::attempt_result> query(engine::attempt_request request) override;
  boost::system::result<engine::supplier_callback> parse_callback(
      const std::vector<std::pair<std::string, std::string>>& params) override;
  /// Closes the HTTP client: running submits and queries end at once as unknown.
  void close() override;

  /// The notify_url sent with every pushOrder.
  const std::string& notify_url() const noexcept;

  /// The HTTP client options the adapter uses for `config`: request deadline and connect bound
  /// from timeout_ms, private targets allowed, at most 64 connections per shard to the supplier
  /// and max_inflight requests waiting for one.
  static protocol::http_client_options http_options_for(const engine::channel_config& config);

  struct state;  // shared with running submits and queries

 private:
  std::shared_ptr<state> state_;
};

/// What a pushOrder answer means (see wikeyun_adapter): accepted, refused or unknown.
engine::attempt_result interpret_push_answer(unsigned http_status, std::string_view body);

/// What a query answer about `attempt_id` means (see wikeyun_adapter).
engine::attempt_result interpret_query_answer(unsigned http_status, std::string_view body,
                                              std::string_view attempt_id);

/// The factory of the `wikeyun` kind for channels/registry.
std::unique_ptr<engine::channel_adapter> make_wikeyun_adapter(const engine::channel_config& config,
                                                              boost::asio::io_context& io,
                                                              std::string public_url);

}  // namespace topup::channels
