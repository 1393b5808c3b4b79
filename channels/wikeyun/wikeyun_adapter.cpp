#include "channels/wikeyun/wikeyun_adapter.hpp"

#include <simdjson.h>

#include <chrono>
#include <optional>

#include "channels/errc.hpp"
#include "engine/support/clock.hpp"
#include "engine/support/log.hpp"
#include "engine/config/sign_method.hpp"
#include "protocol/form.hpp"
#include "protocol/signing.hpp"

namespace topup::channels {

namespace asio = boost::asio;
namespace dom = simdjson::dom;
using engine::attempt_outcome;
using engine::attempt_result;

struct wikeyun_adapter::state {
  state(const engine::channel_config& config_, asio::io_context& io, const std::string& public_url,
        protocol::http_client_options http_options);

  engine::channel_config config;
  wikeyun_settings settings;
  std::string push_url;
  std::string query_url;
  std::string notify_url;
  protocol::http_client client;
  std::shared_ptr<spdlog::logger> log;
};

namespace {

/// At most this many bytes of supplier text (msg, reason) go into a detail.
constexpr std::size_t k_supplier_text_max = 120;
/// At most this many bytes of an answer go into a log line.
constexpr std::size_t k_body_excerpt_max = 200;
/// Connections per shard to one supplier; more requests wait (max_inflight of them).
constexpr std::size_t k_connections_per_supplier = 64;
constexpr std::size_t k_idle_per_supplier = 32;

std::string without_trailing_slashes(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  return text;
}

/// Supplier text for a detail or a log line: one line, bounded, cut on a UTF-8 boundary (the
/// JSON parser has already checked that strings are valid UTF-8; a raw body that is not UTF-8
/// only makes a log line less readable).
std::string supplier_text(std::string_view text, std::size_t max_bytes = k_supplier_text_max) {
  std::size_t cut = std::min(text.size(), max_bytes);
  if (cut < text.size())
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  std::string out(text.substr(0, cut));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (cut < text.size()) out += "...";
  return out;
}

attempt_result make_result(attempt_outcome outcome, std::string detail) {
  attempt_result result;
  result.outcome = outcome;
  result.detail = std::move(detail);
  return result;
}

/// One parser per shard thread; every use parses and reads synchronously, never across a
/// co_await, so the document is never shared by two answers.
dom::parser& thread_parser() {
  thread_local dom::parser parser;
  return parser;
}

/// The spec §1 envelope of an answer: `code` always as its four digits, the rest viewing into
/// the parser's document.
struct envelope {
  std::string code;
  std::string_view msg;
  std::optional<dom::object> data;
};

bool is_four_digits(std::string_view code) {
  if (code.size() != 4) return false;
  for (char c : code)
    if (c < '0' || c > '9') return false;
  return true;
}

/// A JSON integer of `value`; nullopt for any other type, a fraction or an exponent included
/// (`2.0` is not read as 2: an answer that decides money is read only in its plain forms).
std::optional<std::int64_t> json_integer(dom::element value) {
  std::int64_t number = 0;
  if (value.get_int64().get(number) != simdjson::SUCCESS) return std::nullopt;
  return number;
}

/// `code` as its four digits: a string per spec §1, or a JSON integer 0..9999 read the same
/// (spec §6), zero-padded because code 0 is "0000"; nullopt for anything else.
std::optional<std::string> envelope_code(dom::element value) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    if (!is_four_digits(text)) return std::nullopt;
    return std::string(text);
  }
  auto number = json_integer(value);
  if (!number || *number < 0 || *number > 9999) return std::nullopt;
  std::string digits(4, '0');
  std::size_t at = digits.size();
  for (std::int64_t rest = *number; rest > 0; rest /= 10)
    digits[--at] = static_cast<char>('0' + rest % 10);
  return digits;
}

/// The envelope of `body`, or nullopt with `problem` set when it is not one.
std::optional<envelope> read_envelope(std::string_view body, std::string& problem) {
  if (body.empty()) {  // also keeps a null data() away from simdjson
    problem = "supplier answer is empty";
    return std::nullopt;
  }
  dom::element root;
  if (thread_parser().parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    problem = "supplier answer is not valid JSON";
    return std::nullopt;
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    problem = "supplier answer is not a JSON object";
    return std::nullopt;
  }
  dom::element code;
  if (object.at_key("code").get(code) != simdjson::SUCCESS) {
    problem = "supplier answer has no code";
    return std::nullopt;
  }
  auto digits = envelope_code(code);
  if (!digits) {
    problem = "supplier answer has a malformed code";
    return std::nullopt;
  }
  envelope out;
  out.code = std::move(*digits);
  std::string_view msg;
  if (object.at_key("msg").get_string().get(msg) == simdjson::SUCCESS) out.msg = msg;
  dom::object data;
  if (object.at_key("data").get_object().get(data) == simdjson::SUCCESS) out.data = data;
  return out;
}

std::string code_detail(const envelope& answer) {
  std::string detail = "supplier code ";
  detail.append(answer.code);
  if (!answer.msg.empty()) detail.append(": ").append(supplier_text(answer.msg));
  return detail;
}

/// Spec §4 statuses as a supplier reports them (query or callback); nullopt for any other.
std::optional<attempt_result> status_result(std::string_view status, std::string_view reason) {
  if (status == "2") return make_result(attempt_outcome::succeeded, "");
  if (status == "3" || status == "4") {
    std::string detail = "supplier status ";
    detail.append(status);
    if (!reason.empty()) detail.append(": ").append(supplier_text(reason));
    return make_result(attempt_outcome::failed, std::move(detail));
  }
  if (status == "0" || status == "1" || status == "6" || status == "7") {
    std::string detail = "supplier status ";
    detail.append(status);
    return make_result(attempt_outcome::pending, std::move(detail));
  }
  return std::nullopt;
}

/// `status` of a query answer's data: a string per spec §3.2; a JSON integer is read the same
/// (spec §6). A negative one keeps its '-', so it is no spec status.
std::optional<std::string> data_status(const dom::object& data) {
  dom::element value;
  if (data.at_key("status").get(value) != simdjson::SUCCESS) return std::nullopt;
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) return std::string(text);
  if (auto number = json_integer(value)) return std::to_string(*number);
  return std::nullopt;
}

attempt_result transport_result(const boost::system::error_code& ec) {
  if (ec == protocol::http_client_errc::timeout)
    return make_result(attempt_outcome::unknown, "supplier timed out");
  if (ec == asio::error::operation_aborted)
    return make_result(attempt_outcome::unknown, "cancelled by shutdown");
  return make_result(attempt_outcome::unknown, "transport: " + ec.message());
}

std::string timestamp_now() { return std::to_string(engine::wall_clock_ms() / 1000); }

std::string push_body(const wikeyun_adapter::state& st, const engine::attempt_request& request) {
  protocol::form_params params;
  params.reserve(9);
  params.assign("app_key", st.settings.app_key);
  params.assign("timestamp", timestamp_now());
  params.assign("store_id", st.settings.store_id);
  params.assign("mobile", request.mobile);
  params.assign("order_no", request.attempt_id);
  params.assign("money", std::to_string(request.money_yuan));
  params.assign("recharge_type", std::to_string(request.recharge_type));
  params.assign("notify_url", st.notify_url);
  params.assign("sign",
                protocol::sign_params(params, engine::sign_method::md5, st.settings.app_secret));
  return protocol::form_encode(params);
}

std::string query_body(const wikeyun_adapter::state& st, const engine::attempt_request& request) {
  protocol::form_params params;
  params.reserve(4);
  params.assign("app_key", st.settings.app_key);
  params.assign("timestamp", timestamp_now());
  params.assign("order_no", request.attempt_id);
  params.assign("sign",
                protocol::sign_params(params, engine::sign_method::md5, st.settings.app_secret));
  return protocol::form_encode(params);
}

/// One line per exchange: unknown outcomes at warn (the engine will have to ask again, an
/// operator may want to know why), the rest at debug (hot path). No secrets, no mobile numbers.
void log_exchange(const wikeyun_adapter::state& st, std::string_view what,
                  const engine::attempt_request& request, const attempt_result& result,
                  const boost::system::result<protocol::http_client_response>& answer) {
  if (result.outcome != attempt_outcome::unknown) {
    st.log->debug("channel={} op={} attempt={} outcome={} detail=\"{}\"", st.config.id, what,
                  request.attempt_id, engine::outcome_name(result.outcome), result.detail);
    return;
  }
  if (answer) {
    st.log->warn(
        "channel={} op={} attempt={} outcome=unknown detail=\"{}\" http_status={} "
        "body=\"{}\"",
        st.config.id, what, request.attempt_id, result.detail, answer->status,
        supplier_text(answer->body, k_body_excerpt_max));
  } else {
    st.log->warn("channel={} op={} attempt={} outcome=unknown detail=\"{}\"", st.config.id, what,
                 request.attempt_id, result.detail);
  }
}

asio::awaitable<attempt_result> run_submit(std::shared_ptr<wikeyun_adapter::state> st,
                                           engine::attempt_request request) {
  std::string body = push_body(*st, request);
  const std::chrono::milliseconds timeout(st->config.timeout_ms);
  // post_form never re-sends: a second pushOrder copy could be a second top-up.
  auto answer = co_await st->client.post_form(st->push_url, std::move(body), timeout);
  attempt_result result = answer ? interpret_push_answer(answer->status, answer->body)
                                 : transport_result(answer.error());
  log_exchange(*st, "submit", request, result, answer);
  co_return result;
}

asio::awaitable<attempt_result> run_query(std::shared_ptr<wikeyun_adapter::state> st,
                                          engine::attempt_request request) {
  std::string body = query_body(*st, request);
  const std::chrono::milliseconds timeout(st->config.timeout_ms);
  auto answer = co_await st->client.post_form(st->query_url, std::move(body), timeout);
  attempt_result result =
      answer ? interpret_query_answer(answer->status, answer->body, request.attempt_id)
             : transport_result(answer.error());
  log_exchange(*st, "query", request, result, answer);
  co_return result;
}

}  // namespace

wikeyun_adapter::state::state(const engine::channel_config& config_, asio::io_context& io,
                              const std::string& public_url,
                              protocol::http_client_options http_options)
    : config(config_),
      settings(parse_wikeyun_settings(config_)),
      client(io, std::move(http_options)),
      log(logger("channels.wikeyun")) {
  const std::string base = without_trailing_slashes(settings.url);
  push_url = base + "/rest/Recharge/pushOrder";
  query_url = base + "/rest/Recharge/query";
  notify_url = without_trailing_slashes(public_url) + "/notify/" + config.id;
}

engine::attempt_result interpret_push_answer(unsigned http_status, std::string_view body) {
  if (http_status != 200)
    return make_result(attempt_outcome::unknown, "supplier HTTP " + std::to_string(http_status));
  std::string problem;
  const auto answer = read_envelope(body, problem);
  if (!answer) return make_result(attempt_outcome::unknown, std::move(problem));
  if (answer->code == "0000") return make_result(attempt_outcome::accepted, "");
  // 5001: the supplier failed inside, possibly after storing (and charging for) the order.
  // 2003: an order with this order_no already exists there. Attempt ids are unique, so it can
  // only be this very attempt placed earlier (a lost answer, a restart) with a parameter the
  // supplier compares differently: it may be delivered, so it is not a refusal.
  // Only a query can settle either; a refusal could send the top-up to a second channel.
  if (answer->code == "5001" || answer->code == "2003")
    return make_result(attempt_outcome::unknown, code_detail(*answer));
  return make_result(attempt_outcome::refused, code_detail(*answer));
}

engine::attempt_result interpret_query_answer(unsigned http_status, std::string_view body,
                                              std::string_view attempt_id) {
  if (http_status != 200)
    return make_result(attempt_outcome::unknown, "supplier HTTP " + std::to_string(http_status));
  std::string problem;
  const auto answer = read_envelope(body, problem);
  if (!answer) return make_result(attempt_outcome::unknown, std::move(problem));
  if (answer->code == "3001") return make_result(attempt_outcome::not_found, code_detail(*answer));
  if (answer->code != "0000") return make_result(attempt_outcome::unknown, code_detail(*answer));
  if (!answer->data)
    return make_result(attempt_outcome::unknown, "supplier query answer has no data");
  // A status about some other order must not settle this one: an order_no that is present must
  // be this attempt's, as a string (a number or an object names no attempt of ours).
  dom::element order_no_value;
  if (answer->data->at_key("order_no").get(order_no_value) == simdjson::SUCCESS) {
    std::string_view order_no;
    if (order_no_value.get_string().get(order_no) != simdjson::SUCCESS)
      return make_result(attempt_outcome::unknown, "supplier query answer has a malformed order_no");
    if (order_no != attempt_id)
      return make_result(attempt_outcome::unknown,
                         "supplier answered about order_no " + supplier_text(order_no, 64));
  }
  const auto status = data_status(*answer->data);
  if (!status) return make_result(attempt_outcome::unknown, "supplier query answer has no status");
  std::string_view reason;
  if (answer->data->at_key("reason").get_string().get(reason) != simdjson::SUCCESS) reason = {};
  if (auto result = status_result(*status, reason)) return std::move(*result);
  return make_result(attempt_outcome::unknown,
                     "supplier status " + supplier_text(*status, 16) + " is not a spec status");
}

wikeyun_adapter::wikeyun_adapter(const engine::channel_config& config, asio::io_context& io,
                                 std::string public_url)
    : wikeyun_adapter(config, io, std::move(public_url), http_options_for(config)) {}

wikeyun_adapter::wikeyun_adapter(const engine::channel_config& config, asio::io_context& io,
                                 std::string public_url, protocol::http_client_options http_options)
    : state_(std::make_shared<state>(config, io, public_url, std::move(http_options))) {}

wikeyun_adapter::~wikeyun_adapter() { state_->client.close(); }

const engine::channel_config& wikeyun_adapter::config() const noexcept { return state_->config; }

const std::string& wikeyun_adapter::notify_url() const noexcept { return state_->notify_url; }

protocol::http_client_options wikeyun_adapter::http_options_for(
    const engine::channel_config& config) {
  protocol::http_client_options options;
  options.request_timeout = std::chrono::milliseconds(config.timeout_ms);
  options.connect_timeout = std::chrono::milliseconds(config.timeout_ms);
  options.max_connections_per_host = k_connections_per_supplier;
  options.max_waiting_per_host = std::max<std::size_t>(config.max_inflight, 1);
  options.max_idle_per_host = k_idle_per_supplier;
  options.allow_private_targets = true;  // operators configure supplier URLs
  return options;
}

asio::awaitable<engine::attempt_result> wikeyun_adapter::submit(engine::attempt_request request) {
  return run_submit(state_, std::move(request));
}

asio::awaitable<engine::attempt_result> wikeyun_adapter::query(engine::attempt_request request) {
  return run_query(state_, std::move(request));
}

boost::system::result<engine::supplier_callback> wikeyun_adapter::parse_callback(
    const std::vector<std::pair<std::string, std::string>>& params) {
  protocol::form_params form;
  form.reserve(params.size());
  for (const auto& [key, value] : params)
    if (!form.insert(key, value)) return make_error_code(errc::malformed_answer);  // repeated key
  const std::string* sign = form.find("sign");
  if (!sign) return make_error_code(errc::bad_signature);
  // Spec §5: a callback signed with anything but MD5 names its method in `sign_type` (any letter
  // case), which then decides; a supplier that sends none is read by the length of the sign.
  engine::sign_method method = engine::sign_method::md5;
  if (const std::string* sign_type = form.find("sign_type"); sign_type && !sign_type->empty()) {
    auto declared = protocol::requested_sign_method(form);
    if (!declared) return make_error_code(errc::bad_signature);
    method = *declared;
  } else if (sign->size() == 32) {
    method = engine::sign_method::md5;
  } else if (sign->size() == 64) {
    method = engine::sign_method::hmac_sha256;
  } else {
    return make_error_code(errc::bad_signature);
  }
  if (!protocol::verify_sign(form, method, state_->settings.app_secret, *sign))
    return make_error_code(errc::bad_signature);
  const std::string* order_no = form.find("order_no");
  const std::string* status = form.find("status");
  if (!order_no || order_no->empty() || !status || status->empty())
    return make_error_code(errc::malformed_answer);
  engine::supplier_callback callback;
  callback.attempt_id = *order_no;
  // Statuses outside spec §4 keep the attempt running: the engine goes on asking by query.
  auto result = status_result(*status, "");
  callback.result = result ? std::move(*result)
                           : make_result(attempt_outcome::pending,
                                         "supplier status " + supplier_text(*status, 16));
  state_->log->debug("channel={} callback attempt={} outcome={}", state_->config.id,
                     callback.attempt_id, engine::outcome_name(callback.result.outcome));
  return callback;
}

void wikeyun_adapter::close() { state_->client.close(); }

std::unique_ptr<engine::channel_adapter> make_wikeyun_adapter(const engine::channel_config& config,
                                                              boost::asio::io_context& io,
                                                              std::string public_url) {
  return std::make_unique<wikeyun_adapter>(config, io, std::move(public_url));
}

}  // namespace topup::channels
