// topupd: the thin main. Parses the command line, loads the configuration, runs the server (or,
// with the `audit` subcommand, audits the books in Redis or the statement files).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "app/audit_command.hpp"
#include "app/server.hpp"
#include "app/statement_audit_command.hpp"
#include "channels/channel_kinds.hpp"
#include "engine/config/config.hpp"
#include "engine/support/log.hpp"
#include "protocol/tls_server_context.hpp"

#ifndef TOPUP_VERSION
#define TOPUP_VERSION "0.1.0"
#endif

int main(int argc, char** argv) {
  CLI::App cli{"topupd: phone-bill top-up order engine"};
  std::string config_path;
  std::string check_path;
  std::string log_level;
  cli.set_version_flag("--version", "topupd " TOPUP_VERSION);
  auto* run_opt = cli.add_option("--config", config_path, "Run the server with this JSON config");
  auto* check_opt =
      cli.add_option("--check-config", check_path, "Validate this JSON config and exit");
  cli.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off");
  run_opt->excludes(check_opt);
  check_opt->excludes(run_opt);

  auto* audit = cli.add_subcommand(
      "audit",
      "Replay every merchant's log in Redis and check its balance and every order against it, "
      "or with --statements check the daily statement files instead; print each mismatch. "
      "Exit 0 clean, 1 mismatches, 2 could not audit");
  audit->footer(
      "Two audits:\n"
      "  topupd audit --config FILE [--merchant ID]...\n"
      "      the books in Redis\n"
      "  topupd audit --config FILE --statements FROM..TO [--merchant ID]...\n"
      "      the statement files under statements.dir, no Redis: each day's file against\n"
      "      MANIFEST.sha256, its lines against its summary, its opening against the day\n"
      "      before's closing; a day without a file is a finding");
  std::string audit_config_path;
  std::vector<std::int64_t> audit_merchant_ids;
  std::string audit_statement_days;
  audit
      ->add_option("--config", audit_config_path,
                   "JSON config naming Redis (or statements.dir) and the merchants")
      ->required();
  audit->add_option("--merchant", audit_merchant_ids, "Audit only this merchant id (repeatable)");
  auto* statements_opt = audit->add_option(
      "--statements", audit_statement_days,
      "Check the statement files of these business days (YYYYMMDD..YYYYMMDD inclusive, at most "
      "366 days, or one YYYYMMDD) instead of Redis");
  statements_opt->type_name("FROM..TO");
  audit->excludes(run_opt);
  audit->excludes(check_opt);
  CLI11_PARSE(cli, argc, argv);

  if (*audit) {
    auto loaded =
        topup::engine::load_config_file(audit_config_path, topup::channels::validate_channel_kind);
    if (auto* err = std::get_if<topup::engine::config_error>(&loaded)) {
      std::cerr << err->message << "\n";
      return topup::app::k_audit_incomplete;
    }
    // Quiet by default: the findings and the summary are the output.
    if (!topup::set_log_level(log_level.empty() ? std::string("warn") : log_level)) {
      std::cerr << "--log-level: unknown level \"" << log_level << "\"\n";
      return topup::app::k_audit_incomplete;
    }
    const auto& cfg = std::get<topup::engine::config>(loaded);
    if (*statements_opt) {
      return topup::app::run_statement_audit(cfg, audit_merchant_ids, audit_statement_days,
                                             std::cout, std::cerr);
    }
    return topup::app::run_audit(cfg, audit_merchant_ids, std::cout, std::cerr);
  }

  if (config_path.empty() && check_path.empty()) {
    std::cerr << "topupd: one of --config FILE or --check-config FILE is required (see --help)\n";
    return 2;
  }
  const std::string& path = check_path.empty() ? config_path : check_path;
  auto loaded = topup::engine::load_config_file(path, topup::channels::validate_channel_kind);
  if (auto* err = std::get_if<topup::engine::config_error>(&loaded)) {
    std::cerr << err->message << "\n";
    return 1;
  }
  auto& cfg = std::get<topup::engine::config>(loaded);
  // The files server.tls names are read and checked here, so that --check-config catches them.
  std::optional<topup::protocol::server_tls_credentials> tls;
  if (cfg.server.tls) {
    auto credentials = topup::protocol::load_server_tls(*cfg.server.tls);
    if (auto* err = std::get_if<topup::engine::config_error>(&credentials)) {
      std::cerr << err->message << "\n";
      return 1;
    }
    tls = std::move(std::get<topup::protocol::server_tls_credentials>(credentials));
  }
  if (!check_path.empty()) {
    std::cout << "config ok: " << cfg.merchants.size() << " merchants, " << cfg.channels.size()
              << " channels\n";
    return 0;
  }
  if (!log_level.empty()) cfg.server.log_level = log_level;
  if (!topup::set_log_level(cfg.server.log_level)) {
    std::cerr << "server.log_level: unknown level \"" << cfg.server.log_level << "\"\n";
    return 1;
  }
  return topup::app::run_server(std::move(cfg), std::move(tls));
}
