// topup_supplier_sim: a separate process that plays an upstream supplier for topupd's `wikeyun`
// channel (spec §6), with scripted failure modes, for channel, fault and end-to-end tests.
//
//   topup_supplier_sim --listen 127.0.0.1:PORT --app-key K --app-secret S
//                      [--mode succeed] [--callback-delay-ms 100] [--slow-ms 5000] [--seed 0]
//                      [--store-id ID] [--callback-timeout-ms 5000] [--log-level info]
//                      [--slow-answer-ms 200] [--mix name:weight,…]
//
// Exits 0 on SIGTERM/SIGINT, 2 on bad arguments, 1 when it cannot listen.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/config/config.hpp"
#include "engine/support/log.hpp"
#include "protocol/http_server.hpp"
#include "tests/supplier_sim/mode_mix.hpp"
#include "tests/supplier_sim/supplier_book.hpp"
#include "tests/supplier_sim/supplier_service.hpp"

namespace {

namespace asio = boost::asio;
using namespace topup;

struct command_line {
  engine::listen_address listen;
  supplier_sim::supplier_options options;
  std::string log_level = "info";
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: topup_supplier_sim --listen HOST:PORT --app-key K --app-secret S\n"
               "         [--mode MODE] [--callback-delay-ms N] [--slow-ms N] [--seed N]\n"
               "         [--store-id ID] [--callback-timeout-ms N] [--log-level LEVEL]\n"
               "         [--slow-answer-ms N] [--mix MODE:WEIGHT,...]\n"
               "modes: %s\n",
               supplier_sim::mode_names().c_str());
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

/// The parsed arguments, or an error line for stderr.
std::optional<command_line> parse_arguments(int argc, char** argv, std::string& error) {
  command_line cl;
  bool have_listen = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      error = std::string(flag) + ": needs a value";
      return std::nullopt;
    }
    const std::string_view value = argv[++i];
    auto milliseconds = [&](std::chrono::milliseconds& out) {
      const auto n = parse_number(value);
      if (!n || *n > 3'600'000) return false;
      out = std::chrono::milliseconds(*n);
      return true;
    };
    bool ok = true;
    if (flag == "--listen") {
      const auto address = engine::parse_listen_address(value);
      ok = address.has_value();
      if (ok) cl.listen = *address;
      have_listen = ok;
    } else if (flag == "--app-key") {
      cl.options.app_key = value;
      ok = !value.empty();
    } else if (flag == "--app-secret") {
      cl.options.app_secret = value;
      ok = !value.empty();
    } else if (flag == "--store-id") {
      cl.options.store_id = value;
    } else if (flag == "--mode") {
      const auto mode = supplier_sim::mode_from_name(value);
      ok = mode.has_value();
      if (ok) cl.options.mode = *mode;
    } else if (flag == "--callback-delay-ms") {
      ok = milliseconds(cl.options.callback_delay);
    } else if (flag == "--slow-ms") {
      ok = milliseconds(cl.options.slow);
    } else if (flag == "--slow-answer-ms") {
      ok = milliseconds(cl.options.slow_answer);
    } else if (flag == "--mix") {
      // Checked here, drawn from in the service (with --seed, wherever it stands).
      cl.options.mix = value;
      ok = supplier_sim::mode_mix::parse(value, 1).has_value();
    } else if (flag == "--callback-timeout-ms") {
      ok = milliseconds(cl.options.callback_timeout) && cl.options.callback_timeout.count() > 0;
    } else if (flag == "--seed") {
      const auto n = parse_number(value);
      ok = n.has_value();
      if (ok) cl.options.seed = *n;
    } else if (flag == "--log-level") {
      cl.log_level = value;
    } else {
      error = "unknown argument " + std::string(flag);
      return std::nullopt;
    }
    if (!ok) {
      error = std::string(flag) + ": bad value \"" + std::string(value) + "\"";
      return std::nullopt;
    }
  }
  if (!have_listen || cl.options.app_key.empty() || cl.options.app_secret.empty()) {
    error = "--listen, --app-key and --app-secret are required";
    return std::nullopt;
  }
  return cl;
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  auto cl = parse_arguments(argc, argv, error);
  if (!cl) {
    std::fprintf(stderr, "topup_supplier_sim: %s\n", error.c_str());
    usage(stderr);
    return 2;
  }
  if (!set_log_level(cl->log_level)) {
    std::fprintf(stderr, "topup_supplier_sim: --log-level: unknown level \"%s\"\n",
                 cl->log_level.c_str());
    return 2;
  }
  auto log = logger("supplier_sim");

  asio::io_context io(1);
  auto service = std::make_shared<supplier_sim::supplier_service>(io, cl->options);
  protocol::http_server_options server_options;
  server_options.host = cl->listen.host;
  server_options.port = cl->listen.port;
  protocol::http_server server(io, 0, server_options, [service](protocol::http_request request) {
    return supplier_sim::handle_request(service, std::move(request));
  });
  if (const auto ec = server.listen()) {
    log->error("cannot listen on {}:{}: {}", cl->listen.host, cl->listen.port, ec.message());
    return 1;
  }
  log->info("listening on {}:{} mode={} mix={} seed={}", cl->listen.host, server.port(),
            service->mode_label(), cl->options.mix, cl->options.seed);

  // SIGTERM: stop accepting, cancel pending settlements and slow answers, give answers being
  // written a moment, then stop the reactor.
  asio::signal_set signals(io, SIGTERM, SIGINT);
  asio::steady_timer grace(io);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    log->info("stopping");
    server.shutdown();
    service->stop();
    grace.expires_after(std::chrono::milliseconds(100));
    grace.async_wait([&](const boost::system::error_code&) { io.stop(); });
  });
  io.run();
  return 0;
}
