#include "protocol/envelope.hpp"

#include <boost/json/serialize.hpp>

#include <array>
#include <charconv>

namespace topup::protocol {

std::string make_envelope(std::string_view code, std::string_view msg, std::int64_t time_s,
                          const boost::json::value& data) {
  // Written field by field rather than through a json::object, so `data` (a whole order list,
  // for Recharge/list) is serialized in place instead of being copied into a temporary object.
  std::array<char, 24> time_chars{};
  const auto [time_end, time_ec] =
      std::to_chars(time_chars.data(), time_chars.data() + time_chars.size(), time_s);
  (void)time_ec;  // 24 chars hold any int64_t
  const std::string data_json = boost::json::serialize(data);

  std::string out;
  out.reserve(48 + code.size() + msg.size() * 2 + data_json.size());
  out.append(R"({"code":)");
  out.append(boost::json::serialize(boost::json::string_view(code.data(), code.size())));
  out.append(R"(,"msg":)");
  out.append(boost::json::serialize(boost::json::string_view(msg.data(), msg.size())));
  out.append(R"(,"time":")");
  out.append(time_chars.data(), time_end);
  out.append(R"(","data":)");
  out.append(data_json);
  out.push_back('}');
  return out;
}

}  // namespace topup::protocol
