#pragma once
// The one place that maps a channel's configured `kind` to its adapter. Adding a supplier
// protocol = one new folder under channels/ and one line in registry.cpp (plus its settings
// check in channel_kinds).
#include <string>

#include "engine/routing/channel_adapter.hpp"

namespace topup::channels {

/// The adapter factory of one shard: creates a `sim` or `wikeyun` adapter for a channel by its
/// `kind`, on the io_context it is given (the shard's own); nullptr for a kind no adapter
/// registers, which config validation (validate_channel_kind) refuses before anything starts.
/// `public_url` is server.public_url, from which protocols with callbacks build their
/// notify_url; `shard` seeds per-shard state (the sim's generator).
engine::channel_adapter_factory make_channel_factory(std::string public_url, unsigned shard);

}  // namespace topup::channels
