// End-to-end: the topupd command line (spec §8). A refused configuration or a failed start is
// reported as exactly one line naming the field, with a non-zero exit status.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/self_signed_cert.hpp"
#include "tests/support/topupd_process.hpp"

namespace topup::test {
namespace {

namespace json = boost::json;

const std::string k_example = std::string(TOPUP_SOURCE_DIR) + "/deploy/topupd.example.json";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return path;
}

/// The output as one line: non-empty, and no newline except one at the very end.
::testing::AssertionResult is_one_line(const std::string& output) {
  std::string line = output;
  if (!line.empty() && line.back() == '\n') line.pop_back();
  if (line.empty()) return ::testing::AssertionFailure() << "no output";
  if (line.find('\n') != std::string::npos)
    return ::testing::AssertionFailure() << "more than one line:\n" << output;
  return ::testing::AssertionSuccess();
}

TEST(Cli, VersionAndHelpExitZero) {
  auto [version_status, version] = run_topupd({"--version"});
  EXPECT_EQ(version_status, 0) << version;
  EXPECT_NE(version.find("topupd"), std::string::npos) << version;

  auto [help_status, help] = run_topupd({"--help"});
  EXPECT_EQ(help_status, 0) << help;
  EXPECT_NE(help.find("--config"), std::string::npos) << help;
  EXPECT_NE(help.find("--check-config"), std::string::npos) << help;
}

TEST(Cli, CheckConfigAcceptsTheExample) {
  auto [status, output] = run_topupd({"--check-config", k_example});
  EXPECT_EQ(status, 0) << output;
}

TEST(Cli, BadFieldIsOneLineNamingIt) {
  auto cfg = json::parse(read_file(k_example)).as_object();
  cfg["channels"].as_array()[0].as_object()["cost_rate"] = 5;
  const auto dir = make_temp_dir("cli");
  const auto path = write_file(dir, "bad.json", json::serialize(cfg));

  auto [status, output] = run_topupd({"--check-config", path});
  EXPECT_NE(status, 0) << output;
  EXPECT_TRUE(is_one_line(output));
  EXPECT_NE(output.find("channels[0].cost_rate"), std::string::npos) << output;

  // The same file given to --config refuses to start, the same way.
  auto [run_status, run_output] = run_topupd({"--config", path});
  EXPECT_NE(run_status, 0) << run_output;
  EXPECT_TRUE(is_one_line(run_output));
  EXPECT_NE(run_output.find("channels[0].cost_rate"), std::string::npos) << run_output;
}

TEST(Cli, OtherBadFieldsAreNamed) {
  const auto dir = make_temp_dir("cli");
  struct edit {
    const char* field;
    void (*apply)(json::object&);
  };
  const edit edits[] = {
      {"merchants[1].price_rate", [](json::object& c) {
         c["merchants"].as_array()[1].as_object()["price_rate"] = -1;
       }},
      {"server.listen", [](json::object& c) { c["server"].as_object()["listen"] = "nowhere"; }},
      {"admin.token", [](json::object& c) { c["admin"].as_object()["token"] = ""; }},
      {"server.metrics_listen",
       [](json::object& c) { c["server"].as_object()["metrics_listen"] = "nowhere"; }},
      // The merchant listener's own address: SO_REUSEPORT would let both bind and split the
      // connections between them.
      {"server.metrics_listen", [](json::object& c) {
         auto& server = c["server"].as_object();
         server["metrics_listen"] = server["listen"];
       }},
  };
  for (const auto& e : edits) {
    auto cfg = json::parse(read_file(k_example)).as_object();
    e.apply(cfg);
    const auto path = write_file(dir, "edit.json", json::serialize(cfg));
    auto [status, output] = run_topupd({"--check-config", path});
    EXPECT_NE(status, 0) << e.field << ": " << output;
    EXPECT_TRUE(is_one_line(output)) << e.field;
    EXPECT_NE(output.find(e.field), std::string::npos) << output;
  }
}

TEST(Cli, MalformedJsonIsOneLine) {
  const auto dir = make_temp_dir("cli");
  const auto path = write_file(dir, "broken.json", "{\"server\": {\"listen\": ");
  auto [status, output] = run_topupd({"--check-config", path});
  EXPECT_NE(status, 0) << output;
  EXPECT_TRUE(is_one_line(output));
}

TEST(Cli, MissingFileIsOneLine) {
  const auto dir = make_temp_dir("cli");
  auto [status, output] = run_topupd({"--check-config", dir + "/does-not-exist.json"});
  EXPECT_NE(status, 0) << output;
  EXPECT_TRUE(is_one_line(output));
  EXPECT_NE(output.find("does-not-exist.json"), std::string::npos) << output;

  auto [run_status, run_output] = run_topupd({"--config", dir + "/does-not-exist.json"});
  EXPECT_NE(run_status, 0) << run_output;
  EXPECT_TRUE(is_one_line(run_output));
}

/// server.tls: every problem with its files stops the start as one line naming the field, with
/// --check-config as with --config (no Redis is needed to see it).
TEST(Cli, TlsFileProblemsAreOneLineNamingTheField) {
  const auto dir = make_temp_dir("cli-tls");
  const auto good = write_self_signed_cert(dir, "good");
  const auto other = write_self_signed_cert(dir, "other");
  const auto encrypted =
      write_file(dir, "encrypted.key.pem", encrypted_key_pem(read_file(good.key_path), "pw"));
  const auto not_pem = write_file(dir, "not.pem", "this is not PEM\n");
  struct tls_case {
    std::string what;
    json::value tls;
    std::string expected;  // the start of the one line
  };
  const auto files = [](const std::string& cert, const std::string& key) {
    return json::value(json::object{{"cert", cert}, {"key", key}});
  };
  const tls_case cases[] = {
      {"no such cert file", files(dir + "/missing.pem", good.key_path),
       "server.tls.cert: cannot read " + dir + "/missing.pem: No such file or directory"},
      {"key unreadable (a directory)", files(good.cert_path, dir),
       "server.tls.key: cannot read " + dir + ": Is a directory"},
      {"cert not PEM", files(not_pem, good.key_path), "server.tls.cert: no PEM certificate in"},
      {"a certificate as the key", files(good.cert_path, good.cert_path),
       "server.tls.key: no unencrypted PEM private key in"},
      {"encrypted key", files(good.cert_path, encrypted),
       "server.tls.key: no unencrypted PEM private key in"},
      {"key of another certificate", files(good.cert_path, other.key_path),
       "server.tls.key: does not match the certificate of server.tls.cert"},
      {"tls not an object", json::value("cert.pem"), "server.tls: must be an object"},
      {"no key", json::value(json::object{{"cert", good.cert_path}}),
       "server.tls.key: is required"},
  };
  for (const auto& c : cases) {
    topupd_config cfg(free_loopback_port(), free_loopback_port(), 1);
    cfg.json["server"].as_object()["tls"] = c.tls;
    const auto path = write_file(dir, "topupd.json", json::serialize(cfg.json));
    for (const char* flag : {"--check-config", "--config"}) {
      auto [status, output] = run_topupd({flag, path});
      EXPECT_EQ(status, 1) << c.what << " " << flag << ": " << output;
      EXPECT_TRUE(is_one_line(output)) << c.what << " " << flag;
      EXPECT_EQ(output.rfind(c.expected, 0), 0u) << c.what << " " << flag << ": " << output;
    }
  }

  // The good pair passes.
  topupd_config cfg(free_loopback_port(), free_loopback_port(), 1);
  cfg.json["server"].as_object()["tls"] = files(good.cert_path, good.key_path);
  const auto path = write_file(dir, "topupd.json", json::serialize(cfg.json));
  auto [status, output] = run_topupd({"--check-config", path});
  EXPECT_EQ(status, 0) << output;
}

/// A listening socket on a free loopback port, held for the test (no SO_REUSEPORT, so nobody
/// can share the port).
class port_holder {
 public:
  port_holder() : port_(free_loopback_port()), fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    listening_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                 ::listen(fd_, 4) == 0;
  }
  ~port_holder() {
    if (fd_ >= 0) ::close(fd_);
  }
  port_holder(const port_holder&) = delete;
  port_holder& operator=(const port_holder&) = delete;
  int port() const { return port_; }
  bool listening() const { return listening_; }

 private:
  int port_;
  int fd_;
  bool listening_ = false;
};

TEST(Cli, PortInUseIsOneLineNamingServerListen) {
  const auto dir = make_temp_dir("cli");
  // With Redis reachable, and with Redis down (the start-up must not talk about Redis either:
  // the listen failure is the one thing to report).
  redis_server redis;
  const int dead_redis_port = free_loopback_port();
  for (const int redis_port : {redis.port(), dead_redis_port}) {
    port_holder taken;
    ASSERT_TRUE(taken.listening());
    topupd_config cfg(taken.port(), redis_port, 2);
    const auto path = write_file(dir, "topupd.json", json::serialize(cfg.json));
    auto [status, output] = run_topupd({"--config", path});
    EXPECT_NE(status, 0) << output;
    EXPECT_NE(status, 124) << "topupd did not exit with its port taken";
    EXPECT_TRUE(is_one_line(output)) << "redis port " << redis_port;
    EXPECT_NE(output.find("server.listen"), std::string::npos) << output;
  }
}

TEST(Cli, MetricsPortInUseIsOneLineNamingServerMetricsListen) {
  const auto dir = make_temp_dir("cli");
  redis_server redis;
  port_holder taken;
  ASSERT_TRUE(taken.listening());
  topupd_config cfg(free_loopback_port(), redis.port(), 2);
  cfg.json["server"].as_object()["metrics_listen"] = "127.0.0.1:" + std::to_string(taken.port());
  const auto path = write_file(dir, "topupd.json", json::serialize(cfg.json));
  auto [status, output] = run_topupd({"--config", path});
  EXPECT_NE(status, 0) << output;
  EXPECT_NE(status, 124) << "topupd did not exit with its metrics port taken";
  EXPECT_TRUE(is_one_line(output));
  EXPECT_NE(output.find("server.metrics_listen"), std::string::npos) << output;
}

TEST(Cli, ConfigIsRequired) {
  auto [status, output] = run_topupd({});
  EXPECT_NE(status, 0) << output;
  EXPECT_TRUE(is_one_line(output));
}

}  // namespace
}  // namespace topup::test
