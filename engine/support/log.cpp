#include "engine/support/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

#include "engine/support/mask.hpp"

namespace topup {
namespace {
std::mutex registry_mutex;  // loggers are created at start-up, never on the hot path

/// Forwards every line to `inner` with mobile numbers masked (spec §8), at every level: a line
/// without one is forwarded as it is, without a copy.
class masking_sink final : public spdlog::sinks::sink {
 public:
  explicit masking_sink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}

  void log(const spdlog::details::log_msg& msg) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!engine::shows_a_mobile(payload)) return inner_->log(msg);
    const std::string masked = engine::masked_mobiles(payload);
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(masked.data(), masked.size());
    inner_->log(copy);
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  spdlog::sink_ptr inner_;
};

}  // namespace

spdlog::sink_ptr masking(spdlog::sink_ptr inner) {
  return std::make_shared<masking_sink>(std::move(inner));
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  std::lock_guard lock(registry_mutex);
  if (auto existing = spdlog::get(name)) return existing;
  static const spdlog::sink_ptr shared_stderr =
      masking(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  auto created = std::make_shared<spdlog::logger>(name, shared_stderr);
  created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %n %v");
  created->set_level(spdlog::get_level());
  spdlog::register_logger(created);
  return created;
}

bool set_log_level(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return false;
  spdlog::set_level(parsed);
  spdlog::apply_all([parsed](const std::shared_ptr<spdlog::logger>& l) { l->set_level(parsed); });
  return true;
}

}  // namespace topup
