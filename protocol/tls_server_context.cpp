#include "protocol/tls_server_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/system/system_error.hpp>

#include <optional>
#include <string_view>

namespace topup::protocol {

namespace ssl = boost::asio::ssl;

namespace {

/// A PEM file is a few KB; a chain of a dozen certificates stays far below this.
constexpr std::size_t k_max_pem_bytes = 1024 * 1024;

/// TLS 1.2 suites: ECDHE (forward secrecy) with AEAD only, ECDSA first (cheaper to sign with).
/// TLS 1.3 keeps OpenSSL's default suites, which are all AEAD.
constexpr const char* k_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct bio_deleter {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct x509_deleter {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct pkey_deleter {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, bio_deleter> memory_bio(const std::string& text) {
  return std::unique_ptr<BIO, bio_deleter>(
      BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

/// OpenSSL's reason for the last failure on this thread (its queue emptied), for a message.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : "OpenSSL error " + std::to_string(code);
}

/// Never asks for a passphrase: OpenSSL's default would prompt on the terminal, and a server
/// must not wait for a person at start-up. An encrypted key therefore fails to load.
int no_passphrase(char*, int, int, void*) { return 0; }

std::optional<std::string> read_pem(const std::string& field, const std::string& path,
                                    std::optional<engine::config_error>& error) {
  std::string why;
  auto text = engine::read_config_input(path, k_max_pem_bytes, why);
  if (!text) error = engine::config_error{field + ": cannot read " + path + ": " + why};
  return text;
}

}  // namespace

std::variant<server_tls_credentials, engine::config_error> load_server_tls(
    const engine::tls_files& files) {
  const std::string cert_field = "server.tls.cert";
  const std::string key_field = "server.tls.key";
  std::optional<engine::config_error> error;
  auto cert_pem = read_pem(cert_field, files.cert_path, error);
  if (!cert_pem) return *error;
  auto key_pem = read_pem(key_field, files.key_path, error);
  if (!key_pem) return *error;

  ERR_clear_error();
  auto cert_bio = memory_bio(*cert_pem);
  std::unique_ptr<X509, x509_deleter> leaf(
      PEM_read_bio_X509(cert_bio.get(), nullptr, &no_passphrase, nullptr));
  if (!leaf) {
    return engine::config_error{cert_field + ": no PEM certificate in " + files.cert_path + " (" +
                                openssl_reason() + ")"};
  }
  auto key_bio = memory_bio(*key_pem);
  std::unique_ptr<EVP_PKEY, pkey_deleter> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, &no_passphrase, nullptr));
  if (!key) {
    return engine::config_error{key_field + ": no unencrypted PEM private key in " +
                                files.key_path + " (" + openssl_reason() + ")"};
  }
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return engine::config_error{key_field + ": does not match the certificate of " + cert_field +
                                " (" + files.cert_path + ")"};
  }

  server_tls_credentials credentials{std::move(*cert_pem), std::move(*key_pem), {}};
  if (RAND_bytes(credentials.ticket_keys.data(),
                 static_cast<int>(credentials.ticket_keys.size())) != 1) {
    return engine::config_error{"server.tls: no random bytes for session tickets (" +
                                openssl_reason() + ")"};
  }
  // Whatever else OpenSSL refuses (a key too small for its security level, a broken
  // intermediate in the chain) shows when a context is built: do it once now.
  try {
    (void)make_server_tls_context(credentials);
  } catch (const boost::system::system_error& e) {
    return engine::config_error{cert_field + ": refused by OpenSSL: " + e.code().message()};
  }
  return credentials;
}

std::shared_ptr<ssl::context> make_server_tls_context(const server_tls_credentials& credentials) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::no_compression);
  SSL_CTX* native = ctx->native_handle();
  const auto check = [](bool ok) {
    if (!ok)
      throw boost::system::system_error(boost::system::error_code(
          static_cast<int>(ERR_get_error()), boost::asio::error::get_ssl_category()));
  };
  check(SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) == 1);
  check(SSL_CTX_set_cipher_list(native, k_tls12_ciphers) == 1);
  // Client-initiated renegotiation costs the server a handshake per request of the client's.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  // An idle keep-alive connection then holds no 2 x 17 KB record buffers (10,000 connections
  // per shard are allowed): they are taken again when a record comes.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  check(SSL_CTX_set_tlsext_ticket_keys(native,
                                       const_cast<unsigned char*>(credentials.ticket_keys.data()),
                                       credentials.ticket_keys.size()) == 1);
  ctx->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });
  ctx->use_certificate_chain(boost::asio::buffer(credentials.cert_chain_pem));
  ctx->use_private_key(boost::asio::buffer(credentials.key_pem), ssl::context::pem);
  check(SSL_CTX_check_private_key(native) == 1);
  return ctx;
}

}  // namespace topup::protocol
