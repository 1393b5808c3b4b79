#include "bench/topup_bench/callback_sink.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <cstring>

#include "bench/topup_bench/http_framing.hpp"
#include "bench/topup_bench/load_generator.hpp"
#include "bench/topup_bench/request_pool.hpp"

namespace topup::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr std::string_view k_success_answer =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nsuccess";

/// One keep-alive connection from topupd's callback client; answers each request in order
/// (pipelined ones included) and lives as long as its handlers hold it.
class sink_session : public std::enable_shared_from_this<sink_session> {
 public:
  sink_session(tcp::socket socket, callback_sink& sink)
      : socket_(std::move(socket)), sink_(sink), in_(16384) {}

  void start() { read(); }

  void read() {
    if (in_used_ == in_.size()) in_.resize(in_.size() * 2);
    socket_.async_read_some(
        asio::buffer(in_.data() + in_used_, in_.size() - in_used_),
        [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const error_code& ec, std::size_t n);

 private:
  tcp::socket socket_;
  callback_sink& sink_;
  std::vector<char> in_;
  std::size_t in_used_ = 0;
  std::string out_;
};

}  // namespace

/// The acceptor and io_context of the sink.
struct callback_sink::server {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  callback_sink* sink = nullptr;

  void accept() {
    acceptor.async_accept([this](const error_code& ec, tcp::socket socket) {
      if (ec) return;  // closed at stop()
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<sink_session>(std::move(socket), *sink)->start();
      accept();
    });
  }
};

void sink_session::on_read(const error_code& ec, std::size_t n) {
  if (ec) return;  // topupd closed the connection, or the sink stops
  in_used_ += n;
  std::size_t consumed = 0;
  out_.clear();
  const std::int64_t now = now_ns();
  for (;;) {
    http_message message;
    const auto framed =
        frame_message(std::string_view(in_.data() + consumed, in_used_ - consumed), message);
    if (framed == frame_result::malformed) {
      error_code ignored;
      socket_.close(ignored);
      return;
    }
    if (framed == frame_result::need_more) break;
    const auto order_no = form_value(message.body, "order_no");
    const auto status = form_value(message.body, "status");
    sink_.record(order_no.value_or(std::string_view{}), status.value_or(std::string_view{}), now);
    out_ += k_success_answer;
    consumed += message.total_bytes;
  }
  if (consumed) {
    std::memmove(in_.data(), in_.data() + consumed, in_used_ - consumed);
    in_used_ -= consumed;
  }
  if (out_.empty()) return read();
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this()](const error_code& write_ec, std::size_t) {
                      if (!write_ec) self->read();
                    });
}

callback_sink::callback_sink(std::size_t orders)
    : arrival_ns_(orders, 0), server_(std::make_unique<server>()) {
  server_->sink = this;
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
  server_->acceptor.open(endpoint.protocol());
  server_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  server_->acceptor.bind(endpoint);
  server_->acceptor.listen(asio::socket_base::max_listen_connections);
  port_ = server_->acceptor.local_endpoint().port();
}

callback_sink::~callback_sink() { stop(); }

void callback_sink::start() {
  server_->accept();
  thread_ = std::thread([this] { server_->io.run(); });
}

void callback_sink::stop() {
  if (!thread_.joinable()) return;
  server_->io.stop();
  thread_.join();
}

void callback_sink::record(std::string_view order_no, std::string_view status, std::int64_t at_ns) {
  received_.fetch_add(1, std::memory_order_relaxed);
  const std::size_t index = request_pool::index_of_order_no(order_no);
  if (index >= arrival_ns_.size()) {
    unknown_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (status != "2") {
    other_status_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (arrival_ns_[index] != 0) {
    duplicates_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  arrival_ns_[index] = at_ns;
  succeeded_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace topup::bench
