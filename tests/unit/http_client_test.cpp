// protocol/http_client's pure parts: URL parsing and the SSRF address table of spec §5.
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include <string>
#include <vector>

#include "protocol/http_client.hpp"

namespace {

using topup::protocol::http_client_errc;
using topup::protocol::is_forbidden_target;
using topup::protocol::parse_http_url;

TEST(HttpClientUrl, PlainHttpWithDefaults) {
  auto url = parse_http_url("http://example.com");
  ASSERT_TRUE(url) << url.error().message();
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->host, "example.com");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->target, "/");
  EXPECT_EQ(url->host_header(), "example.com");
  EXPECT_EQ(url->origin(), "http://example.com:80");
}

TEST(HttpClientUrl, HttpsWithPortPathAndQuery) {
  auto url = parse_http_url("HTTPS://Supplier.Example.COM:8443/rest/Recharge/pushOrder?a=1&b=%20");
  ASSERT_TRUE(url) << url.error().message();
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "supplier.example.com");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->target, "/rest/Recharge/pushOrder?a=1&b=%20");
  EXPECT_EQ(url->host_header(), "supplier.example.com:8443");
  EXPECT_EQ(url->origin(), "https://supplier.example.com:8443");
}

TEST(HttpClientUrl, DefaultHttpsPortIsLeftOutOfHostHeader) {
  auto url = parse_http_url("https://a.b:443/x");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->host_header(), "a.b");
}

TEST(HttpClientUrl, Ipv4AndIpv6Literals) {
  auto v4 = parse_http_url("http://127.0.0.1:9000/notify/up1");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9000);
  EXPECT_EQ(v4->target, "/notify/up1");

  auto v6 = parse_http_url("http://[::1]:9000/p");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
  EXPECT_EQ(v6->host_header(), "[::1]:9000");
  EXPECT_EQ(v6->origin(), "http://[::1]:9000");

  auto v6_default = parse_http_url("https://[2001:db8::1]");
  ASSERT_TRUE(v6_default);
  EXPECT_EQ(v6_default->host_header(), "[2001:db8::1]");
  EXPECT_EQ(v6_default->target, "/");
}

TEST(HttpClientUrl, QueryWithoutPathAndFragmentDropped) {
  auto query_only = parse_http_url("http://h?x=1");
  ASSERT_TRUE(query_only);
  EXPECT_EQ(query_only->target, "/?x=1");

  auto fragment = parse_http_url("http://h/p?q=1#frag");
  ASSERT_TRUE(fragment);
  EXPECT_EQ(fragment->target, "/p?q=1");

  auto only_fragment = parse_http_url("http://h#frag");
  ASSERT_TRUE(only_fragment);
  EXPECT_EQ(only_fragment->target, "/");
}

TEST(HttpClientUrl, RefusesWhatIsNotAnHttpUrl) {
  const std::vector<std::string> bad = {
      "",
      "example.com",
      "ftp://example.com/",
      "file:///etc/passwd",
      "gopher://h/",
      "http:/h/",
      "http://",
      "http:///path",
      "http://:80/",
      "http://h:/",
      "http://h:0/",
      "http://h:65536/",
      "http://h:123456/",
      "http://h:8o/",
      "http://h:-1/",
      "http://user@h/",
      "http://user:pw@h/",
      "http://h/a b",
      "http://h/\r\nX-Injected: 1",
      "http://h\t/",
      "http://h/\x7f",
      "http://h/\xe4\xb8\xad",
      "http://ex%41mple.com/",
      "http://h!/",
      "http://[::1/",
      "http://[::1]x/",
      "http://[::1]:/",
      "http://[not-v6]/",
      "http://[fe80::1%25eth0]/",
      "http://[]/",
      "http://a:b:c/",
      "http://" + std::string(254, 'a') + "/",
  };
  for (const auto& text : bad) {
    auto url = parse_http_url(text);
    EXPECT_FALSE(url) << "accepted: " << text;
    if (!url) {
      EXPECT_EQ(url.error(), http_client_errc::bad_url) << text;
    }
  }
}

TEST(HttpClientUrl, AcceptsBoundaryPortsAndLongHost) {
  EXPECT_TRUE(parse_http_url("http://h:1/"));
  EXPECT_TRUE(parse_http_url("http://h:65535/"));
  EXPECT_TRUE(parse_http_url("http://" + std::string(253, 'a') + "/"));
  EXPECT_TRUE(parse_http_url("http://under_score-and~tilde.example/"));
}

struct target_case {
  const char* address;
  bool forbidden;
};

TEST(HttpClientSsrf, ForbiddenTargetTable) {
  const std::vector<target_case> cases = {
      // IPv4: unspecified / "this network"
      {"0.0.0.0", true},
      {"0.1.2.3", true},
      // loopback
      {"127.0.0.1", true},
      {"127.255.255.254", true},
      // private
      {"10.0.0.1", true},
      {"10.255.255.255", true},
      {"172.16.0.1", true},
      {"172.31.255.255", true},
      {"172.15.255.255", false},
      {"172.32.0.0", false},
      {"192.168.0.1", true},
      {"192.168.255.255", true},
      {"192.169.0.1", false},
      // link-local and the cloud metadata address
      {"169.254.0.1", true},
      {"169.254.169.254", true},
      {"169.255.0.1", false},
      // CGNAT
      {"100.64.0.1", true},
      {"100.127.255.255", true},
      {"100.63.255.255", false},
      {"100.128.0.0", false},
      // multicast, reserved, broadcast
      {"224.0.0.1", true},
      {"239.255.255.250", true},
      {"240.0.0.1", true},
      {"255.255.255.255", true},
      // public
      {"1.1.1.1", false},
      {"8.8.8.8", false},
      {"93.184.216.34", false},
      {"11.0.0.1", false},
      {"126.255.255.255", false},
      {"128.0.0.1", false},
      {"223.255.255.255", false},
      // IPv6
      {"::", true},
      {"::1", true},
      {"fc00::1", true},
      {"fd12:3456::1", true},
      {"fd00:ec2::254", true},
      {"fe80::1", true},
      {"febf:ffff::1", true},
      {"fec0::1", true},
      {"ff02::1", true},
      {"ff05::1:3", true},
      {"2001:4860:4860::8888", false},
      {"2606:4700:4700::1111", false},
      {"2001:db8::1", false},
      // IPv6 forms that embed IPv4
      {"::ffff:127.0.0.1", true},
      {"::ffff:10.1.2.3", true},
      {"::ffff:169.254.169.254", true},
      {"::ffff:8.8.8.8", false},
      {"::127.0.0.1", true},
      {"::8.8.8.8", false},
      {"64:ff9b::192.168.1.1", true},
      {"64:ff9b::8.8.8.8", false},
  };
  for (const auto& c : cases) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(c.address, ec);
    ASSERT_FALSE(ec) << c.address;
    EXPECT_EQ(is_forbidden_target(address), c.forbidden) << c.address;
  }
}

TEST(HttpClientErrors, CategoryNamesEveryCode) {
  for (int v = 0; v <= static_cast<int>(http_client_errc::tls_unavailable); ++v) {
    const auto ec = make_error_code(static_cast<http_client_errc>(v));
    EXPECT_STREQ(ec.category().name(), "topup.http_client");
    EXPECT_NE(ec.message(), "unknown http client error") << v;
  }
  const boost::system::error_code timeout = http_client_errc::timeout;
  EXPECT_EQ(timeout, http_client_errc::timeout);
  EXPECT_NE(timeout, http_client_errc::queue_timeout);
}

}  // namespace
