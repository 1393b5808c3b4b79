#include "tests/support/redis_server.hpp"

#include <hiredis/hiredis.h>
#include <signal.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>

namespace topup::test {
namespace {

struct context_deleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using context_ptr = std::unique_ptr<redisContext, context_deleter>;
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

std::string flatten(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
    case REDIS_REPLY_NIL: return {};
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (std::size_t i = 0; i < r->elements; ++i) {
        if (i > 0) out.push_back('\n');
        out += flatten(r->element[i]);
      }
      return out;
    }
    default: return std::string(r->str, r->len);
  }
}

// One blocking command; nullptr reply (with the reason in `error`) if the server is unreachable.
reply_ptr blocking_command(int port, const std::string& password,
                           const std::vector<std::string>& args, std::string& error) {
  timeval timeout{2, 0};
  context_ptr c(redisConnectWithTimeout("127.0.0.1", port, timeout));
  if (!c || c->err != 0) {
    error = c ? c->errstr : "out of memory";
    return nullptr;
  }
  redisSetTimeout(c.get(), timeout);
  if (!password.empty()) {
    reply_ptr auth(static_cast<redisReply*>(redisCommand(c.get(), "AUTH %s", password.c_str())));
    if (!auth || auth->type == REDIS_REPLY_ERROR) {
      error = auth ? std::string(auth->str, auth->len) : std::string(c->errstr);
      return nullptr;
    }
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  reply_ptr r(static_cast<redisReply*>(
      redisCommandArgv(c.get(), static_cast<int>(args.size()), argv.data(), lengths.data())));
  if (!r) error = c->errstr;
  return r;
}

}  // namespace

redis_server::redis_server(redis_server_options options)
    : options_(std::move(options)), dir_(make_temp_dir("redis")) {
  // The port is free when picked but not reserved: if another process takes it first, the
  // server exits at once and another port is tried.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_loopback_port();
    if (launch(std::chrono::seconds(10))) return;
  }
  throw std::runtime_error("redis-server did not start; see " + dir_ + "/redis.log");
}

redis_server::~redis_server() {
  process_.stop(SIGKILL);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool redis_server::running() { return process_.running(); }

void redis_server::start() {
  if (process_.running()) return;
  if (!launch(std::chrono::seconds(10))) {
    throw std::runtime_error("redis-server did not restart on port " + std::to_string(port_) +
                             "; see " + dir_ + "/redis.log");
  }
}

void redis_server::stop(bool kill) { process_.stop(kill ? SIGKILL : SIGTERM); }

bool redis_server::launch(std::chrono::milliseconds wait) {
  std::vector<std::string> argv = {"redis-server",
                                   "--port", std::to_string(port_),
                                   "--bind", "127.0.0.1",
                                   "--dir", dir_,
                                   "--save", "",
                                   "--appendonly", "yes",
                                   "--appendfsync", options_.appendfsync,
                                   "--daemonize", "no"};
  if (!options_.password.empty()) {
    argv.push_back("--requirepass");
    argv.push_back(options_.password);
  }
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  process_ = child_process(argv, dir_ + "/redis.log");

  // Listening is not enough: while it loads the AOF it answers -LOADING. Wait for PONG.
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_.running()) return false;  // e.g. the port was taken meanwhile
    if (wait_for_port(port_, std::chrono::milliseconds(100))) {
      std::string error;
      auto r = blocking_command(port_, options_.password, {"PING"}, error);
      if (r && r->type == REDIS_REPLY_STATUS) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  process_.stop(SIGKILL);
  return false;
}

std::string redis_server::command(const std::vector<std::string>& args) const {
  std::string error;
  auto r = blocking_command(port_, options_.password, args, error);
  if (!r) throw std::runtime_error("redis command failed: " + error);
  return flatten(r.get());
}

}  // namespace topup::test
