#include "app/audit_command.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/result.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "app/redis_options.hpp"
#include "engine/audit/audit.hpp"
#include "engine/support/errc.hpp"
#include "engine/redis/connection.hpp"

namespace topup::app {

namespace {

namespace asio = boost::asio;
using boost::system::result;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

/// Why connect_and_audit gave up, beyond the error code.
enum class stop_reason { none, not_connected, storage };

struct audit_outcome {
  stop_reason reason = stop_reason::none;
  boost::system::error_code ec;
  engine::audit_report report;
};

// Waits (bounded) for the connection, then audits. The connection reconnects on its own; all this
// needs is to stop waiting at the deadline.
asio::awaitable<audit_outcome> connect_and_audit(engine::redis::connection& conn,
                                                 std::string prefix,
                                                 std::vector<std::int64_t> merchant_ids,
                                                 milliseconds connect_wait) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto deadline = steady_clock::now() + connect_wait;
  while (!conn.connected()) {
    if (steady_clock::now() >= deadline)
      co_return audit_outcome{stop_reason::not_connected, {}, {}};
    timer.expires_after(milliseconds(10));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  auto report = co_await engine::audit_merchants(conn, std::move(prefix), std::move(merchant_ids));
  if (!report) co_return audit_outcome{stop_reason::storage, report.error(), {}};
  co_return audit_outcome{stop_reason::none, {}, std::move(*report)};
}

void print_report(const engine::audit_report& report, std::ostream& out) {
  // After a trimmed log: how many orders the checkpoint stands for, and that the entries counted
  // are the ones after it.
  const bool trimmed = report.checkpointed_orders > 0 || report.trimmed_entries > 0;
  const std::string before_checkpoint =
      trimmed ? ", " + std::to_string(report.checkpointed_orders) +
                    " of them accepted before the log's checkpoint"
              : std::string();
  const std::string after_checkpoint =
      trimmed ? " after the checkpoint (" + std::to_string(report.trimmed_entries) +
                    " log entries trimmed behind it)"
              : std::string();
  const std::string scope = std::to_string(report.merchants) + " merchants, " +
                            std::to_string(report.orders) + " orders (" +
                            std::to_string(report.archived) + " archived" + before_checkpoint +
                            "), " + std::to_string(report.ledger_entries) + " ledger entries, " +
                            std::to_string(report.events) + " events" + after_checkpoint;
  print_outcome({"audit", scope, ": every balance and every order agrees with the log"},
                report.findings, report.findings_not_listed, out);
}

}  // namespace

std::optional<std::vector<std::int64_t>> audited_merchants(
    const engine::config& cfg, const std::vector<std::int64_t>& merchant_ids, std::ostream& err) {
  std::vector<std::int64_t> ids;
  if (merchant_ids.empty()) {
    // Disabled merchants too: their books are still money.
    for (const auto& m : cfg.merchants) ids.push_back(m.id);
    return ids;
  }
  for (std::int64_t id : merchant_ids) {
    const bool configured = std::ranges::any_of(
        cfg.merchants, [id](const engine::merchant_config& m) { return m.id == id; });
    if (!configured) {
      err << "audit: merchant " << id << " is not in the configuration\n";
      return std::nullopt;
    }
    if (std::ranges::find(ids, id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

void print_outcome(const audit_scope& scope, const std::vector<engine::audit_finding>& findings,
                   std::int64_t findings_not_listed, std::ostream& out) {
  for (const auto& finding : findings) out << engine::to_string(finding) << '\n';
  if (findings_not_listed > 0)
    out << "... and " << findings_not_listed << " more findings not listed\n";
  if (findings.empty() && findings_not_listed == 0) {
    out << scope.name << " clean: " << scope.what << scope.clean_note << "\n";
  } else {
    const auto total = static_cast<std::int64_t>(findings.size()) + findings_not_listed;
    out << scope.name << " FAILED: " << total << " findings in " << scope.what << "\n";
  }
}

int run_audit(const engine::config& cfg, const std::vector<std::int64_t>& merchant_ids,
              std::ostream& out, std::ostream& err) {
  const auto selected = audited_merchants(cfg, merchant_ids, err);
  if (!selected) return k_audit_incomplete;
  const std::vector<std::int64_t>& ids = *selected;

  asio::io_context io{1};
  engine::redis::connection conn(io, redis_options(cfg));
  conn.start();
  // The connection's own connect timeout, plus room for one reconnect attempt after a refusal.
  const milliseconds connect_wait(std::int64_t{cfg.redis.connect_timeout_ms} + 1000);

  std::optional<audit_outcome> outcome;
  std::exception_ptr failure;
  asio::co_spawn(io, connect_and_audit(conn, cfg.redis.prefix, ids, connect_wait),
                 [&](std::exception_ptr e, audit_outcome o) {
                   if (e)
                     failure = e;
                   else
                     outcome = std::move(o);
                   io.stop();  // the connection would keep the context busy forever
                 });
  io.run();
  conn.stop();
  io.restart();
  io.poll();

  if (failure) {
    // A bug, not a finding: say so plainly rather than pretend the books were checked.
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      err << "audit: internal error: " << e.what() << "\n";
    } catch (...) {
      err << "audit: internal error\n";
    }
    return k_audit_incomplete;
  }
  if (!outcome) {
    err << "audit: stopped before finishing\n";
    return k_audit_incomplete;
  }
  switch (outcome->reason) {
    case stop_reason::not_connected:
      err << "audit: cannot reach redis at " << redis_address(cfg)
          << " (waited " << connect_wait.count() << " ms); nothing was audited\n";
      return k_audit_incomplete;
    case stop_reason::storage:
      err << "audit: redis failed during the audit (" << outcome->ec.message()
          << "); the audit is incomplete, run it again\n";
      return k_audit_incomplete;
    case stop_reason::none:
      break;
  }
  print_report(outcome->report, out);
  return outcome->report.clean() ? k_audit_clean : k_audit_findings;
}

}  // namespace topup::app
