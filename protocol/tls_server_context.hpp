#pragma once
// TLS for the merchant port (`server.tls`, spec §8): the certificate and key read and checked
// once at start-up, then one OpenSSL server context per shard built from them.
#include <boost/asio/ssl/context.hpp>

#include <array>
#include <memory>
#include <string>
#include <variant>

#include "engine/config/config.hpp"

namespace topup::protocol {

/// The merchant port's certificate chain and private key, as PEM text, checked by
/// load_server_tls: each shard builds its own context from these bytes, so the files are read
/// once (no shard can see a file replaced halfway through the start) and a shard never shares
/// OpenSSL's per-context locks with another. Immutable once loaded; any thread may read it.
struct server_tls_credentials {
  std::string cert_chain_pem;
  std::string key_pem;
  /// Session ticket keys (name, HMAC, AES), random per process and the same in every shard's
  /// context, so a client resuming its session on another shard's listener is not refused.
  std::array<unsigned char, 80> ticket_keys{};
};

/// Reads `files` and checks that the certificate and the key are PEM, that the key is not
/// encrypted and belongs to the first certificate, and that OpenSSL accepts both for a server
/// context. On failure, one line naming the field, e.g. "server.tls.key: does not match the
/// certificate of server.tls.cert (/etc/topupd/cert.pem)".
std::variant<server_tls_credentials, engine::config_error> load_server_tls(
    const engine::tls_files& files);

/// A server context for one shard: TLS 1.2 and 1.3 only, TLS 1.2 limited to ECDHE key exchange
/// with AEAD ciphers, no renegotiation, no compression, idle connections' buffers released
/// (docs/DECISIONS.md, "TLS on the merchant port"). `credentials` must come from
/// load_server_tls; throws boost::system::system_error if OpenSSL still refuses them.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(
    const server_tls_credentials& credentials);

}  // namespace topup::protocol
