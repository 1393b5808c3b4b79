#include "engine/support/digest.hpp"

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <stdexcept>

namespace topup::engine {
namespace {

struct md_deleter {
  void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
};
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

const EVP_MD* sha1_algorithm() {
  static const std::unique_ptr<EVP_MD, md_deleter> md{EVP_MD_fetch(nullptr, "SHA1", nullptr)};
  return md.get();
}

const EVP_MD* sha256_algorithm() {
  static const std::unique_ptr<EVP_MD, md_deleter> md{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
  return md.get();
}

/// The lower-case hex digest of `data` with `md`; `name` only for the error.
std::string digest_hex(const EVP_MD* md, std::string_view data, const char* name) {
  // Shards are threads: each reuses its own context, reset by every init.
  thread_local const std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx{EVP_MD_CTX_new()};
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (!ctx || !md || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1)
    throw std::runtime_error(std::string(name) + " digest failed (no " + name +
                             " in this OpenSSL)");
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(len) * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = k_hex[digest[i] >> 4];
    out[2 * i + 1] = k_hex[digest[i] & 0x0f];
  }
  return out;
}

}  // namespace

std::string sha1_hex(std::string_view data) { return digest_hex(sha1_algorithm(), data, "SHA-1"); }

std::string sha256_hex(std::string_view data) {
  return digest_hex(sha256_algorithm(), data, "SHA-256");
}

}  // namespace topup::engine
