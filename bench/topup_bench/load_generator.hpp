#pragma once
// The HTTP/1.1 keep-alive load generator: closed loop (N connections, each sends its next request
// as soon as the previous one is answered) or open loop (a fixed arrival rate; latency counted
// from each request's *intended* send time, so a server that falls behind shows its queueing in
// the latency instead of silently lowering the offered rate, as wrk2 does).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bench/topup_bench/latency_histogram.hpp"
#include "bench/topup_bench/request_pool.hpp"

namespace topup::bench {

/// Monotonic nanoseconds (steady_clock); every time stamp of a run uses this clock.
std::int64_t now_ns() noexcept;

struct load_plan {
  std::uint16_t port = 0;  ///< topupd on 127.0.0.1
  /// Speak TLS to topupd's merchant port (`server.tls`); the certificate is not verified (the
  /// bench's own, self-signed). Each connection shakes hands once, before the clock starts.
  bool tls = false;
  unsigned connections = 64;
  unsigned threads = 1;  ///< generator threads, each with its own io_context and connections
  bool open_loop = false;
  double rate_per_s = 0;  ///< open loop: total intended arrivals per second
  /// Time mode: answers completing in [start + warmup, start + warmup + duration) are measured;
  /// no new request is sent after that window.
  double warmup_s = 1;
  double duration_s = 5;
  /// Count mode (closed loop only): send every request of the pool exactly once, no window;
  /// everything answered is measured.
  bool count_mode = false;
  /// Count mode: stop sending after this many seconds even if requests are left (0: no limit).
  double count_limit_s = 0;
  /// Success = HTTP 200 and envelope code "0000" (pushOrder); otherwise any HTTP 200 (healthz).
  bool expect_envelope = false;
  /// After the window (or the last send), how long answers still in flight are waited for.
  std::chrono::milliseconds stop_grace{10000};
  /// Called on the calling thread once every connection is open, just before the clock starts
  /// (the memory scenario reads topupd's RSS there, so connection buffers are not counted).
  std::function<void()> on_connected;
};

/// What a run observed, all threads merged.
struct load_outcome {
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;            ///< successful answers, whenever they completed
  std::uint64_t ok_in_window = 0;  ///< successful answers completed in the window
  std::uint64_t failed = 0;        ///< answers that were not a success (see failures)
  std::uint64_t transport_errors = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t unanswered = 0;                   ///< still in flight when the stop grace ran out
  std::map<std::string, std::uint64_t> failures;  ///< "HTTP 429 code 1008" -> count
  latency_histogram latency;                      ///< successful answers in the window
  std::int64_t window_start_ns = 0;
  std::int64_t window_end_ns = 0;  ///< shortened if the pool ran out early
  double window_s = 0;
  bool pool_exhausted = false;       ///< time mode: every prepared request was used before the end
  std::int64_t max_send_lag_ns = 0;  ///< open loop: worst (actual - intended) send time
  bool count_limited = false;  ///< count mode: count_limit_s ran out before every request was sent
  /// Successful answers per second since the start (warm-up included): shows a rate that drifts.
  std::vector<std::uint64_t> ok_per_second;
};

/// Runs `plan` with the requests of `pool`. If `send_ns` is not null (size >= pool.size()), the
/// start time (intended in open loop, actual in closed loop) of request i is written to
/// send_ns[i]; each slot is written by one thread and may be read once run_load returned.
/// Throws std::runtime_error if the connections cannot be opened.
load_outcome run_load(const request_pool& pool, const load_plan& plan,
                      std::vector<std::int64_t>* send_ns);

}  // namespace topup::bench
