// Statement downloads (spec §3.7, §7): POST /rest/Recharge/bill for the signed merchant's own
// file, GET /admin/merchants/<id>/statements/<YYYYMMDD> for any operator. The files are placed
// by the test with the statement module, as the statement maker would; topupd only serves them.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "engine/retention/gzip.hpp"
#include "engine/retention/statement.hpp"
#include "engine/retention/statement_files.hpp"
#include "tests/support/merchant_client.hpp"
#include "tests/support/topupd_process.hpp"
#include "tests/support/topupd_suite.hpp"

namespace {

using namespace topup::test;
namespace json = boost::json;
namespace engine = topup::engine;

constexpr std::string_view k_bom = "\xEF\xBB\xBF";
constexpr std::string_view k_bill = "/rest/Recharge/bill";

class StatementsDownload : public shared_topupd_suite<StatementsDownload> {
 protected:
  static void SetUpTestSuite() {
    start_suite([](int port, int redis_port) {
      topupd_config cfg(port, redis_port, 2);
      cfg.json["admin"].as_object()["operators"] = json::array{
          json::object{{"name", "watcher"}, {"token", "tok-viewer"}, {"role", "viewer"}}};
      return cfg;
    });
  }
  static merchant_client k1() { return merchant_client(port_, "k1", "s3cret"); }
  static merchant_client k2() { return merchant_client(port_, "k2", "other-secret"); }

  /// Places merchant's statement of `date` (one order, `order_no` telling whose it is) and
  /// answers the stored gzip bytes.
  static std::string place(std::int64_t merchant, const std::string& date,
                           const std::string& order_no) {
    engine::statement_lines lines;
    lines.merchant_id = merchant;
    lines.day = *engine::business_day::parse(date);
    lines.offset_s = 8 * 3600;
    lines.opening_fen = 10'000;
    engine::statement_order o;
    o.order_number = "T" + std::to_string(merchant) + date;
    o.order_no = order_no;
    o.mobile = "13800138000";
    o.amount_yuan = 50;
    o.cost_fen = 4'900;
    o.created_at_ms = lines.day.start_ms(lines.offset_s) + 1'000;
    o.finished_at_ms = o.created_at_ms + 5'000;
    o.debit_fen = o.cost_fen;
    lines.orders.push_back(o);
    const std::string dir = topupd_->statements_dir();
    const auto written =
        engine::write_statement(dir, merchant, lines.day, engine::build_statement(lines).csv);
    EXPECT_TRUE(written.has_value());
    auto stored = engine::read_statement(dir, merchant, lines.day);
    EXPECT_TRUE(stored.has_value() && stored->has_value());
    return stored.has_value() && stored->has_value() ? **stored : std::string{};
  }
  static std::string unzip(const std::string& bytes) {
    auto text = engine::gunzip(bytes);
    EXPECT_TRUE(text.has_value());
    return text.has_value() ? *text : std::string{};
  }
  static http_result admin(const std::string& target, const std::string& token,
                           const std::string& accept_encoding = {}) {
    http_client http(port_);
    return http.request(http::verb::get, target, {}, "application/x-www-form-urlencoded",
                        token.empty() ? std::string{} : "Bearer " + token, accept_encoding);
  }
};

/// A file answer: 200, CSV, named for download, gzip as stored or unzipped.
void expect_file(const http_result& r, const std::string& stored, bool gzip,
                 const std::string& filename) {
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.headers[http::field::content_type], "text/csv; charset=utf-8");
  EXPECT_EQ(r.headers[http::field::content_disposition],
            "attachment; filename=\"" + filename + "\"");
  EXPECT_EQ(r.headers[http::field::vary], "Accept-Encoding");
  if (gzip) {
    EXPECT_EQ(r.headers[http::field::content_encoding], "gzip");
    EXPECT_EQ(r.body, stored);  // the stored bytes as they are
  } else {
    EXPECT_EQ(r.headers.count(http::field::content_encoding), 0u);
    auto text = engine::gunzip(stored);
    ASSERT_TRUE(text.has_value());
    EXPECT_EQ(r.body, *text);
    EXPECT_TRUE(r.body.starts_with(k_bom));
  }
}

TEST_F(StatementsDownload, MerchantGetsItsDayGzippedOrPlainAsAcceptEncodingSays) {
  const std::string stored = place(1001, "20260110", "mine-1001");
  ASSERT_FALSE(stored.empty());
  EXPECT_TRUE(unzip(stored).starts_with(k_bom));
  struct row {
    std::string accept;
    bool gzip;
  };
  const std::vector<row> rows = {{"", false},
                                 {"gzip", true},
                                 {"GZip", true},
                                 {"deflate, gzip;q=0.5", true},
                                 {"br , gzip ; q=1.0", true},
                                 {"*", true},
                                 {"gzip;q=0", false},
                                 {"gzip; q=0.000, deflate", false},
                                 {"*;q=0", false},
                                 {"*, gzip;q=0", false},
                                 {"identity", false},
                                 {"deflate, br", false}};
  auto m = k1();
  for (const auto& r : rows) {
    SCOPED_TRACE("Accept-Encoding: " + r.accept);
    expect_file(m.call_raw(std::string(k_bill), {{"date", "20260110"}}, r.accept), stored, r.gzip,
                "1001-20260110.csv");
  }
}

TEST_F(StatementsDownload, DayWithoutAFileIs3001NotMadeYet) {
  auto m = k1();
  const auto r = m.call_raw(std::string(k_bill), {{"date", "20260111"}}, "gzip");
  expect_json_envelope(r, 200, "3001");
  EXPECT_NE(merchant_client::parse(r).msg.find("对账单尚未生成"), std::string::npos) << r.body;
}

TEST_F(StatementsDownload, BadOrMissingDateIs1001NamingDate) {
  place(1001, "20260228", "exists");  // so a lenient parser finding a file would show
  auto m = k1();
  for (const std::string date : {"2026130", "20261301", "20260230", "2026-02-28", "202602280",
                                 " 20260228", "abcdefgh"}) {
    SCOPED_TRACE("date=" + date);
    const auto r = m.call_raw(std::string(k_bill), {{"date", date}});
    expect_json_envelope(r, 200, "1001");
    EXPECT_NE(merchant_client::parse(r).msg.find("date"), std::string::npos) << r.body;
  }
  const auto missing = m.call_raw(std::string(k_bill), {});
  expect_json_envelope(missing, 200, "1001");
  EXPECT_NE(merchant_client::parse(missing).msg.find("date"), std::string::npos) << missing.body;
}

TEST_F(StatementsDownload, AMerchantGetsOnlyItsOwnFile) {
  const std::string only_1001 = place(1001, "20260112", "only-1001");
  const auto other = k2().call_raw(std::string(k_bill), {{"date", "20260112"}}, "gzip");
  expect_json_envelope(other, 200, "3001");
  EXPECT_EQ(other.body.find("only-1001"), std::string::npos);

  place(1001, "20260113", "of-1001");
  const std::string of_1002 = place(1002, "20260113", "of-1002");
  auto m2 = k2();
  const auto own = m2.call_raw(std::string(k_bill), {{"date", "20260113"}});
  expect_file(own, of_1002, false, "1002-20260113.csv");
  EXPECT_NE(own.body.find("of-1002"), std::string::npos);
  EXPECT_EQ(own.body.find("of-1001"), std::string::npos);
  // A merchant_id-like parameter changes nothing: the file is the signer's.
  const auto asked = m2.call_raw(std::string(k_bill), {{"date", "20260112"}, {"merchant_id", "1001"}});
  expect_json_envelope(asked, 200, "3001");
}

TEST_F(StatementsDownload, BadSignatureIs1002AndNoFile) {
  place(1001, "20260114", "signed");
  auto m = k1();
  const auto r = m.call_raw(std::string(k_bill),
                            {{"date", "20260114"}, {"sign", "00000000000000000000000000000000"}});
  expect_json_envelope(r, 200, "1002");
}

TEST_F(StatementsDownload, CorruptFileIs5001) {
  const std::string stored = place(1001, "20260115", "corrupt");
  const auto path = engine::statement_path(topupd_->statements_dir(), 1001,
                                           *engine::business_day::parse("20260115"));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << stored.substr(0, stored.size() / 2);
  auto m = k1();
  for (const std::string accept : {"gzip", ""}) {
    SCOPED_TRACE("Accept-Encoding: " + accept);
    expect_json_envelope(m.call_raw(std::string(k_bill), {{"date", "20260115"}}, accept), 200,
                         "5001");
  }
}

TEST_F(StatementsDownload, ViewerDownloadsAnyMerchantsStatement) {
  const std::string stored = place(1002, "20260116", "for-admin");
  const std::string target = "/admin/merchants/1002/statements/20260116";
  expect_file(admin(target, "tok-viewer", "gzip"), stored, true, "1002-20260116.csv");
  expect_file(admin(target, "tok-viewer"), stored, false, "1002-20260116.csv");
  expect_file(admin(target, "tok-viewer", "gzip;q=0"), stored, false, "1002-20260116.csv");
}

TEST_F(StatementsDownload, AdminRefusalsAndMisses) {
  place(1002, "20260117", "admin-misses");
  expect_json_envelope(admin("/admin/merchants/1002/statements/20260117", ""), 401, "4001");
  expect_json_envelope(admin("/admin/merchants/1002/statements/20260117", "wrong"), 401, "4001");
  expect_json_envelope(admin("/admin/merchants/9999/statements/20260117", "tok-viewer"), 200,
                       "3001");
  expect_json_envelope(admin("/admin/merchants/abc/statements/20260117", "tok-viewer"), 200,
                       "3001");
  expect_json_envelope(admin("/admin/merchants/1002/statements/20260118", "tok-viewer"), 200,
                       "3001");
  const auto bad = admin("/admin/merchants/1002/statements/20260230", "tok-viewer");
  expect_json_envelope(bad, 200, "1001");
  EXPECT_NE(merchant_client::parse(bad).msg.find("date"), std::string::npos) << bad.body;
}

}  // namespace
