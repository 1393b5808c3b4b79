#include "tests/support/self_signed_cert.hpp"

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace topup::test {
namespace {

template <auto Free>
struct openssl_deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO_free>>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION_free>>;

void check(bool ok, const char* what) {
  if (ok) return;
  char reason[256] = "unknown";
  ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
  ERR_clear_error();
  throw std::runtime_error(std::string("self-signed certificate: ") + what + ": " + reason);
}

/// What a PEM writer put into a memory BIO.
template <class Write>
std::string pem_text(Write&& write) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  check(bio != nullptr, "BIO_new");
  check(write(bio.get()) == 1, "PEM write");
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio.get(), &mem);
  return std::string(mem->data, mem->length);
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::trunc | std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("self-signed certificate: cannot write " + path);
  }
  ::chmod(path.c_str(), mode);
}

}  // namespace

pem_pair make_self_signed_cert(const std::string& host, int valid_days) {
  pkey_ptr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen");
  x509_ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "X509_set_version");
  // A random serial: clients that cache certificates by issuer and serial never mix two runs up.
  std::uint64_t serial = 0;
  check(RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) == 1, "RAND_bytes");
  check(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1) == 1, "serial");
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr, "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * valid_days) != nullptr,
        "notAfter");
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1,
                                   0) == 1,
        "subject");
  check(X509_set_issuer_name(cert.get(), name) == 1, "issuer");

  boost::system::error_code not_ip;
  boost::asio::ip::make_address(host, not_ip);
  const std::string san = (not_ip ? "DNS:" : "IP:") + host;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  extension_ptr extension(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str()));
  check(extension != nullptr, "subjectAltName");
  check(X509_add_ext(cert.get(), extension.get(), -1) == 1, "X509_add_ext");
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

  pem_pair out;
  out.cert_pem = pem_text([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  out.key_pem = pem_text([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return out;
}

std::string encrypted_key_pem(const std::string& key_pem, const std::string& passphrase) {
  bio_ptr in(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  check(in != nullptr, "BIO_new_mem_buf");
  pkey_ptr key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  check(key != nullptr, "PEM_read_bio_PrivateKey");
  return pem_text([&](BIO* b) {
    return PEM_write_bio_PKCS8PrivateKey(b, key.get(), EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                         const_cast<char*>(passphrase.c_str()));
  });
}

tls_file_paths write_self_signed_cert(const std::string& dir, const std::string& name,
                                      const std::string& host) {
  const pem_pair pems = make_self_signed_cert(host);
  tls_file_paths paths{dir + "/" + name + ".cert.pem", dir + "/" + name + ".key.pem"};
  write_file(paths.cert_path, pems.cert_pem, 0644);
  write_file(paths.key_path, pems.key_pem, 0600);
  return paths;
}

}  // namespace topup::test
