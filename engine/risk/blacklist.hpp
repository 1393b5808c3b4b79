#pragma once
// The mobile numbers operators blacklisted (spec §3.8), as one shard knows them: a copy of the
// set in Redis, read again whenever its version moves (engine/store/order_store).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace topup::engine {

class blacklist {
 public:
  /// Whether `mobile` is on the list (as of the last read).
  bool contains(std::string_view mobile) const {
    return !mobiles_.empty() && mobiles_.contains(mobile);
  }
  /// The version of the copy; 0 before the first read (and for a list never changed).
  std::int64_t version() const noexcept { return version_; }
  /// Whether a read is due: never read yet, or Redis's version is not this copy's.
  bool stale(std::int64_t stored_version) const noexcept {
    return !loaded_ || stored_version != version_;
  }
  /// Takes a read of the whole list.
  void replace(std::int64_t version, const std::vector<std::string>& mobiles);
  bool loaded() const noexcept { return loaded_; }
  std::size_t size() const noexcept { return mobiles_.size(); }

 private:
  // Looked up by string_view (no copy of the number per order).
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_set<std::string, hash, std::equal_to<>> mobiles_;
  std::int64_t version_ = 0;
  bool loaded_ = false;
};

}  // namespace topup::engine
