#pragma once
// Redis Cluster's routing rules, as pure functions: a key's slot (CRC16 with hash tags), which
// slot (or node) a command must go to, the MOVED / ASK redirections and the CLUSTER SLOTS map.
// engine/redis/cluster_router sends; this only decides.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/redis/reply.hpp"

namespace topup::engine::redis {

inline constexpr int k_cluster_slots = 16384;

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum Redis Cluster hashes with.
std::uint16_t crc16_xmodem(std::string_view bytes) noexcept;

/// The slot of a key, exactly as Redis computes it: when the key holds a '{' followed later by a
/// '}' with at least one byte between them, only those bytes (the first such tag) are hashed;
/// otherwise (no tag, or "{}" first) the whole key is.
int key_slot(std::string_view key) noexcept;

/// A "host:port" node address; the host may be empty (Redis leaves it out when the endpoint is
/// the one the client asked).
struct node_address {
  std::string host;
  int port = 0;

  std::string text() const { return host + ":" + std::to_string(port); }
  bool operator==(const node_address&) const = default;
};

/// "host:port" (the last ':' separates; the port 1..65535); nullopt for anything else.
std::optional<node_address> parse_node_address(std::string_view text);

/// The words of one command in RESP (what format_command writes: an array of bulk strings), as
/// views into `resp`; nullopt when `resp` is not exactly one such array.
std::optional<std::vector<std::string_view>> resp_words(std::string_view resp);

/// Where a command must be sent.
struct command_route {
  enum class kind {
    slot,       // the master serving `slot`
    any,        // keyless (PING, TIME, INFO, a script without keys...): any master
    every,      // SCRIPT LOAD / FLUSH: every master, so whichever runs the script has it
    refused,    // must not be sent: `why`
  };
  kind to = kind::refused;
  int slot = -1;
  std::string why;
};

/// The route of a command given as its words. Scripts (EVAL*, FCALL*) route by their keys, and
/// are refused when the keys span slots (a script must touch one slot; the merchant hash tags
/// guarantee it, this checks it). Multi-key commands likewise. Commands whose meaning depends on
/// staying on one connection across calls (MULTI/EXEC, WATCH, WAIT, SELECT, ASKING) or on seeing
/// every key (KEYS, SCAN, FLUSHALL) are refused: a cluster has no single connection for them.
/// Every other command is routed by its first argument, the key of every single-key command.
command_route route_of(const std::vector<std::string_view>& words);

/// A MOVED or ASK error reply: "MOVED <slot> <host>:<port>", "ASK <slot> <host>:<port>".
struct redirection {
  enum class kind { moved, ask };
  kind type = kind::moved;
  int slot = -1;
  node_address to;
};

/// nullopt unless `error` is a well-formed MOVED or ASK.
std::optional<redirection> parse_redirection(std::string_view error);

/// "TRYAGAIN ..." (a multi-key command during a resharding) or "CLUSTERDOWN ..." (the cluster
/// cannot serve the slot now): refused before running, worth a retry after a short pause.
bool is_cluster_retry(std::string_view error) noexcept;

/// Which master serves each slot: an index into `masters`, -1 for a slot nobody serves.
struct slot_map {
  std::vector<node_address> masters;
  std::vector<std::int16_t> owner = std::vector<std::int16_t>(k_cluster_slots, -1);

  /// Every slot has a master.
  bool complete() const noexcept;
  /// The index of `address` in `masters`, added when absent.
  std::int16_t index_of(const node_address& address);
};

/// The map a CLUSTER SLOTS reply describes: [[start, end, [host, port, id...], replicas...]...].
/// An empty host is `asked_host` (the node that answered). nullopt for any other shape.
std::optional<slot_map> parse_cluster_slots(const reply& r, std::string_view asked_host);

}  // namespace topup::engine::redis
