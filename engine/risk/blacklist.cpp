#include "engine/risk/blacklist.hpp"

namespace topup::engine {

void blacklist::replace(std::int64_t version, const std::vector<std::string>& mobiles) {
  mobiles_.clear();
  mobiles_.insert(mobiles.begin(), mobiles.end());
  version_ = version;
  loaded_ = true;
}

}  // namespace topup::engine
