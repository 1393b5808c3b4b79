#pragma once
// Instance ownership in Redis (DESIGN.md "Persistence", docs/STORAGE.md): the storage layout
// version, the instance's lease and epoch, and the merchants' fences. Small functions over typed
// values, each a few round trips on one redis::connection; lease_keeper renews a lease once held.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/store/fence.hpp"
#include "engine/redis/connection.hpp"

namespace topup::engine {

/// The storage layout this build reads and writes: the value of `P:layout`.
inline constexpr std::string_view k_layout_version = "2";

/// What claim_layout found.
struct layout_claim {
  boost::system::error_code error;  // layout_mismatch (Redis holds `held`), or a storage error
  std::string held;                 // the layout P:layout holds; empty on a storage error
};

/// Sets `P:layout` to k_layout_version when absent (an empty Redis) and answers what it holds:
/// layout_mismatch when that is another version. One atomic script call.
boost::asio::awaitable<layout_claim> claim_layout(redis::connection& conn, std::string prefix);

/// Who holds a lease: the process behind a token, enough to tell on its own host whether it
/// still runs. The pid namespace is part of "its own host": two containers may share a host name
/// while a pid means different processes in each.
struct lease_holder {
  std::string host;           // gethostname(), bytes outside [A-Za-z0-9._-] written '_'
  std::string pid_namespace;  // inode of /proc/self/ns/pid, "" where unreadable
  std::int64_t pid = 0;
  std::int64_t start_ms = 0;  // wall clock at start: two runs under one pid differ

  /// "host=<h> pid=<p> pidns=<n> start_ms=<ms>": the lease key's value.
  std::string token() const;
  /// A token as token() writes it; nullopt for anything else (never provably dead).
  static std::optional<lease_holder> parse(std::string_view token);
  /// This process, `start_ms` now.
  static lease_holder this_process();
};

/// True when `holder` is a process of `self`'s host and pid namespace that no longer runs (no
/// such pid, or a zombie): a crashed predecessor whose lease may be taken at once. A pid that
/// exists, even someone else's (EPERM), counts as running.
bool crashed_on_this_host(const lease_holder& holder, const lease_holder& self);

/// One instance's lease: its keys and how long it lasts unrenewed.
struct lease_spec {
  std::string prefix;
  std::uint32_t instance_id = 0;
  std::chrono::milliseconds ttl{10000};

  std::string lease_key() const;  // P:lease:<instance_id>
  std::string epoch_key() const;  // P:epoch:<instance_id>
};

/// How an acquired lease was found.
enum class lease_source {
  free,            // nobody held it
  crashed_holder,  // a crashed process of this host held it: taken over at once
  expired,         // its holder stopped renewing; taken once it expired
};

/// The outcome of acquire_lease: acquired (epoch set), or refused because a live holder renews it.
struct lease_acquisition {
  bool acquired = false;
  std::int64_t epoch = 0;  // acquired: this run's epoch (INCR P:epoch:<instance>)
  lease_source source = lease_source::free;
  std::string other_token;  // acquired: the replaced holder's token ("" when free);
                            // refused: the live holder's token
  /// Acquired: when the renew confirming the lease (after the INCR) was sent; the lease lasts
  /// at least until this + ttl.
  std::chrono::steady_clock::time_point renewed_at{};
};

/// How often acquire_lease looks at a lease it waits for, and how long past the lease's
/// remaining time it waits before calling the holder live.
inline constexpr std::chrono::milliseconds k_lease_watch_poll{100};
inline constexpr std::chrono::milliseconds k_lease_watch_margin{1000};

/// Takes `spec`'s lease for `self`: SET NX PX when free; at once (compare-and-replace) when its
/// holder crashed on this host; otherwise watches it for its remaining time + margin: renewed
/// (its expiry pushed back) or rewritten means a live instance (refused), expired means it is
/// taken. Then INCR of the epoch and a compare-and-PEXPIRE confirming the lease is still ours.
/// Errors: storage errors as the connection gives them (a retry is safe: it finds its own token);
/// shutting_down once `stopping()` (checked between looks).
boost::asio::awaitable<boost::system::result<lease_acquisition>> acquire_lease(
    redis::connection& conn, lease_spec spec, lease_holder self, std::function<bool()> stopping);

enum class lease_renewal { renewed, not_mine };

/// Compare-and-PEXPIRE: pushes the lease's expiry to now + ttl if it still holds `token`.
boost::asio::awaitable<boost::system::result<lease_renewal>> renew_lease(
    redis::connection& conn, std::string lease_key, std::string token,
    std::chrono::milliseconds ttl);

/// Compare-and-DEL: answers true when the lease held `token` and is gone now, false when it was
/// not ours (nothing deleted).
boost::asio::awaitable<boost::system::result<bool>> release_lease(redis::connection& conn,
                                                                  std::string lease_key,
                                                                  std::string token);

/// P:{m<id>}:fence
std::string fence_key(std::string_view prefix, std::int64_t merchant_id);

/// Raises `fence.instance`'s field in every merchant's fence to `fence.epoch`, never lowers it (a
/// late write of an older run changes nothing): one script call per merchant, sent in one
/// pipelined round. Errors: fenced when some fence already holds a higher epoch (a newer run of
/// this instance took over), storage errors.
boost::asio::awaitable<boost::system::result<void>> write_fences(
    redis::connection& conn, std::string prefix, fence_token fence,
    std::vector<std::int64_t> merchant_ids);

/// class lease_keeper — keeps an acquired lease: renews it (renew_lease) every ttl/3, again after
/// ttl/10 when a renewal gets no answer. The lease has lapsed when a renewal answers not_mine, or
/// when none has succeeded by the local deadline: the send time of the last successful renewal
/// + ttl, on the steady clock (Redis counted the ttl from a later moment, so the lease cannot
/// outlive the deadline); on_lapsed then runs once, on the keeper's executor. Lives on one
/// io_context with its connection (the server's main thread) and must outlive it.
class lease_keeper {
 public:
  lease_keeper(boost::asio::io_context& io, redis::connection& conn, std::string lease_key,
               std::string token, std::chrono::milliseconds ttl,
               std::chrono::steady_clock::time_point renewed_at,
               std::function<void(std::string_view why)> on_lapsed);
  lease_keeper(const lease_keeper&) = delete;
  lease_keeper& operator=(const lease_keeper&) = delete;

  /// `held` (null: none; it must outlive the keeper) is 1 from start() until the lease lapses or
  /// stop(), then 0: the `topup_lease_held` gauge, written on the keeper's thread only.
  void publish_to(std::atomic<std::int64_t>* held) noexcept { held_ = held; }
  void start();
  /// No renewal after this, and on_lapsed never runs.
  void stop();
  bool lapsed() const noexcept { return lapsed_; }
  /// stop(), then release_lease.
  boost::asio::awaitable<boost::system::result<bool>> release();

 private:
  boost::asio::awaitable<void> renew_loop();
  void arm_deadline(std::chrono::steady_clock::time_point deadline);
  void lapse(std::string_view why);

  boost::asio::io_context& io_;
  redis::connection& conn_;
  std::string lease_key_;
  std::string token_;
  std::chrono::milliseconds ttl_;
  std::chrono::steady_clock::time_point renewed_at_;
  std::chrono::steady_clock::time_point deadline_;  // the lease lapses here unless renewed
  std::function<void(std::string_view)> on_lapsed_;
  boost::asio::steady_timer renew_timer_;
  boost::asio::steady_timer deadline_timer_;
  bool stopped_ = false;
  bool lapsed_ = false;
  std::atomic<std::int64_t>* held_ = nullptr;

  void publish_held(bool held) noexcept;
};

}  // namespace topup::engine
