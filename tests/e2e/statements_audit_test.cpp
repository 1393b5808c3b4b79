// `topupd audit --statements FROM..TO` (issue 16): the real binary checks statement files the
// test wrote under statements.dir, with no Redis anywhere (the config names a port nothing
// listens on), and answers with the books audit's exit codes: 0 clean, 1 findings, 2 could not.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/retention/business_day.hpp"
#include "engine/retention/statement_files.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sample_statement.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

class StatementsAuditCommand : public testing::Test {
 protected:
  void SetUp() override {
    // Redis at a port nothing listens on: the statements audit must not need it.
    topupd_config cfg(free_loopback_port(), free_loopback_port());
    cfg.json["statements"] = json::object{{"dir", statements_dir_}, {"timezone", "+08:00"}};
    std::ofstream(config_path_) << json::serialize(cfg.json);
    write_sample_statements(statements_dir_, 1001, "20261201", 3, 100'000);
    write_sample_statements(statements_dir_, 1002, "20261201", 3, 0);
  }
  std::pair<int, std::string> audit(const std::string& range) {
    return run_topupd({"audit", "--config", config_path_, "--statements", range});
  }
  fs::path file(std::int64_t merchant, const char* yyyymmdd) const {
    return engine::statement_path(statements_dir_, merchant,
                                  engine::business_day::parse(yyyymmdd).value());
  }

  const std::string dir_ = make_temp_dir("statements-audit");
  const std::string config_path_ = dir_ + "/topupd.json";
  const std::string statements_dir_ = dir_ + "/statements";
};

TEST_F(StatementsAuditCommand, CleanFilesExitZeroAndTamperedOnesOne) {
  auto [clean_status, clean_output] = audit("20261201..20261203");
  EXPECT_EQ(clean_status, 0) << clean_output;
  EXPECT_EQ(clean_output, "statements clean: 6 statements of 2 merchants, 20261201..20261203\n");

  auto [one_status, one_output] = run_topupd(
      {"audit", "--config", config_path_, "--merchant", "1002", "--statements", "20261202"});
  EXPECT_EQ(one_status, 0) << one_output;
  EXPECT_EQ(one_output, "statements clean: 1 statements of 1 merchants, 20261202..20261202\n");

  // Merchant 1002's day 2 copied over 1001's, 1002's day 3 lost.
  fs::copy_file(file(1002, "20261202"), file(1001, "20261202"),
                fs::copy_options::overwrite_existing);
  fs::remove(file(1002, "20261203"));
  auto [bad_status, bad_output] = audit("20261201..20261203");
  EXPECT_EQ(bad_status, 1) << bad_output;
  EXPECT_EQ(bad_output,
            "merchant 1001: 20261202.csv.gz: its SHA-256 is not the one in MANIFEST.sha256\n"
            "merchant 1001: statement 20261202: the file is merchant 1002's\n"
            "merchant 1002: 20261203.csv.gz: in MANIFEST.sha256, but no such file\n"
            "merchant 1002: statement 20261203 missing\n"
            "statements FAILED: 4 findings in 5 statements of 2 merchants, 20261201..20261203\n");
}

TEST_F(StatementsAuditCommand, WhatCannotBeAuditedExitsTwoWithOneLine) {
  struct row {
    std::vector<std::string> args;
    std::string line;
  };
  const std::vector<row> rows = {
      {{"--statements", "20261203..20261201"}, "audit: --statements: 20261203 is after 20261201\n"},
      {{"--statements", "20250101..20260102"}, "audit: --statements: 367 days, more than 366\n"},
      {{"--statements", "2026-12-01"},
       "audit: --statements: \"2026-12-01\" is not YYYYMMDD..YYYYMMDD or YYYYMMDD\n"},
      {{"--statements", "20261201", "--merchant", "4242"},
       "audit: merchant 4242 is not in the configuration\n"},
  };
  for (const row& r : rows) {
    std::vector<std::string> args = {"audit", "--config", config_path_};
    args.insert(args.end(), r.args.begin(), r.args.end());
    auto [status, output] = run_topupd(args);
    EXPECT_EQ(status, 2) << output;
    EXPECT_EQ(output, r.line);
  }

  // A statements.dir that is not there is not "every statement missing".
  fs::remove_all(statements_dir_);
  auto [gone_status, gone_output] = audit("20261201");
  EXPECT_EQ(gone_status, 2) << gone_output;
  EXPECT_NE(gone_output.find("is not a directory"), std::string::npos) << gone_output;
}

TEST_F(StatementsAuditCommand, HelpShowsTheStatementsUsage) {
  auto [status, output] = run_topupd({"audit", "--help"});
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("--statements"), std::string::npos) << output;
  EXPECT_NE(output.find("topupd audit --config FILE --statements FROM..TO"), std::string::npos)
      << output;
}

}  // namespace
}  // namespace topup::test
