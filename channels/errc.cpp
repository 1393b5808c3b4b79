#include "channels/errc.hpp"

#include <string>

namespace topup::channels {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "topup.channels"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::unknown_kind: return "unknown channel kind";
      case errc::transport: return "transport error";
      case errc::timeout: return "supplier timed out";
      case errc::malformed_answer: return "malformed supplier answer";
      case errc::bad_signature: return "bad supplier signature";
      case errc::unknown_order: return "unknown order";
    }
    return "unknown channels error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace topup::channels
