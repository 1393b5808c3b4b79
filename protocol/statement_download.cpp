#include "protocol/statement_download.hpp"

#include <algorithm>
#include <string>

#include "engine/retention/business_day.hpp"
#include "engine/retention/gzip.hpp"
#include "engine/retention/statement_files.hpp"
#include "engine/support/errc.hpp"
#include "engine/support/log.hpp"
#include "protocol/answers.hpp"
#include "protocol/errc.hpp"
#include "protocol/wire_codes.hpp"

namespace topup::protocol {

namespace {

constexpr std::string_view k_csv = "text/csv; charset=utf-8";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

/// The weight of one list element ("gzip;q=0.5" -> its params part "q=0.5"): true when above 0.
/// A qvalue is "0" or "1" with up to three decimals; anything else is unreadable, taken as 0.
bool weight_positive(std::string_view params) {
  while (!params.empty()) {
    const auto semi = params.find(';');
    const std::string_view param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos || !iequals(trim(param.substr(0, eq)), "q")) continue;
    const std::string_view q = trim(param.substr(eq + 1));
    if (q.empty() || (q[0] != '0' && q[0] != '1')) return false;
    if (q.size() == 1) return q[0] == '1';
    if (q[1] != '.' || q.size() > 5) return false;
    bool nonzero = false;
    for (char c : q.substr(2)) {
      if (c < '0' || c > '9') return false;
      nonzero = nonzero || c != '0';
    }
    return q[0] == '1' ? !nonzero : nonzero;  // "1.5" is not a qvalue
  }
  return true;  // no q: weight 1
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  int gzip = -1, any = -1;  // -1 not listed, 0 refused, 1 accepted
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    const std::string_view element = trim(accept_encoding.substr(0, comma));
    accept_encoding =
        comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
    const auto semi = element.find(';');
    const std::string_view coding = trim(element.substr(0, semi));
    const std::string_view params =
        semi == std::string_view::npos ? std::string_view{} : element.substr(semi + 1);
    const int weight = weight_positive(params) ? 1 : 0;
    // Listed twice: a refusal wins, the careful reading of a contradictory header.
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
      gzip = gzip == -1 ? weight : std::min(gzip, weight);
    else if (coding == "*")
      any = any == -1 ? weight : std::min(any, weight);
  }
  return gzip != -1 ? gzip == 1 : any == 1;
}

http_response statement_answer(const engine::statements_config& statements,
                               std::int64_t merchant_id, std::string_view date,
                               std::string_view accept_encoding, unsigned version,
                               bool keep_alive) {
  const auto day = engine::business_day::parse(date);
  if (!day)
    return error_answer(protocol::errc::bad_param, version, keep_alive, bad_param_msg("date"));
  // A blocking file read on the shard thread: a download, off the order path, of one merchant's
  // day (small), so it is not worth a thread pool; the orders of this shard wait that long.
  auto stored = engine::read_statement(statements.dir, merchant_id, *day);
  if (!stored) {
    logger("protocol")->error("statement read failed merchant={} day={} error={}", merchant_id,
                              day->to_string(), stored.error().message());
    return error_answer(engine::errc::internal, version, keep_alive);
  }
  if (!*stored)
    return error_answer(engine::errc::order_not_found, version, keep_alive, "对账单尚未生成");
  // Unzipped even when sent as stored: a corrupt file is a 5001, never a broken download.
  auto csv = engine::gunzip(**stored);
  if (!csv) {
    logger("protocol")->error("statement corrupt merchant={} day={} error={}", merchant_id,
                              day->to_string(), csv.error().message());
    return error_answer(engine::errc::internal, version, keep_alive);
  }
  const bool gzip = accepts_gzip(accept_encoding);
  http_response res = make_response(http::status::ok, gzip ? std::move(**stored) : std::move(*csv),
                                    k_csv, version, keep_alive);
  res.set(http::field::content_disposition, "attachment; filename=\"" +
                                                std::to_string(merchant_id) + "-" +
                                                day->to_string() + ".csv\"");
  // Vary on both answers: a cache must not hand the gzip bytes to a client that did not ask for them.
  res.set(http::field::vary, "Accept-Encoding");
  if (gzip) res.set(http::field::content_encoding, "gzip");
  return res;
}

}  // namespace topup::protocol
