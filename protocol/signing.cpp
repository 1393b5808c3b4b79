#include "protocol/signing.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace topup::protocol {
namespace {

constexpr std::size_t k_sign_hex_max = 64;  // HMAC-SHA256: 32 bytes as hex

/// An upper-case hex sign held in place, so verifying allocates nothing.
struct sign_hex {
  std::array<char, k_sign_hex_max> chars{};
  std::size_t size = 0;

  std::string_view view() const noexcept { return {chars.data(), size}; }
};

struct md_deleter {
  void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
};
struct mac_deleter {
  void operator()(EVP_MAC* mac) const noexcept { EVP_MAC_free(mac); }
};

// Fetched once per process: OpenSSL 3's implicit fetch (EVP_md5()) looks the algorithm up in
// the provider store on every init, which is measurable on this path.
const EVP_MD* md5_algorithm() {
  static const std::unique_ptr<EVP_MD, md_deleter> md{EVP_MD_fetch(nullptr, "MD5", nullptr)};
  return md.get();
}

EVP_MAC* hmac_algorithm() {
  static const std::unique_ptr<EVP_MAC, mac_deleter> mac{EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
  return mac.get();
}

/// The OpenSSL contexts of one thread, created on first use and reset for every sign: shards
/// are threads, so each shard reuses its own and no context is shared.
class digest_contexts {
 public:
  digest_contexts() : md_ctx_(EVP_MD_CTX_new()) {
    if (EVP_MAC* mac = hmac_algorithm()) {
      mac_ctx_ = EVP_MAC_CTX_new(mac);
      char digest_name[] = "SHA256";
      const OSSL_PARAM params[] = {
          OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
          OSSL_PARAM_construct_end()};
      if (mac_ctx_ != nullptr && EVP_MAC_CTX_set_params(mac_ctx_, params) != 1) {
        EVP_MAC_CTX_free(mac_ctx_);
        mac_ctx_ = nullptr;
      }
    }
  }
  ~digest_contexts() {
    EVP_MAC_CTX_free(mac_ctx_);
    EVP_MD_CTX_free(md_ctx_);
  }
  digest_contexts(const digest_contexts&) = delete;
  digest_contexts& operator=(const digest_contexts&) = delete;

  bool md5(std::string_view data, unsigned char* out, std::size_t& out_len) {
    const EVP_MD* md = md5_algorithm();
    unsigned int len = 0;
    if (md_ctx_ == nullptr || md == nullptr || EVP_DigestInit_ex2(md_ctx_, md, nullptr) != 1 ||
        EVP_DigestUpdate(md_ctx_, data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(md_ctx_, out, &len) != 1) {
      return false;
    }
    out_len = len;
    return true;
  }

  bool hmac_sha256(std::string_view key, std::string_view data, unsigned char* out,
                   std::size_t& out_len) {
    // A null key tells EVP_MAC_init to keep the previous key, which would be another merchant's
    // secret: an empty secret must still be passed as a non-null, zero-length key.
    static const unsigned char k_empty_key = 0;
    const auto* key_bytes =
        key.empty() ? &k_empty_key : reinterpret_cast<const unsigned char*>(key.data());
    if (mac_ctx_ == nullptr || EVP_MAC_init(mac_ctx_, key_bytes, key.size(), nullptr) != 1 ||
        EVP_MAC_update(mac_ctx_, reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1 ||
        EVP_MAC_final(mac_ctx_, out, &out_len, EVP_MAX_MD_SIZE) != 1) {
      return false;
    }
    return true;
  }

 private:
  EVP_MD_CTX* md_ctx_ = nullptr;
  EVP_MAC_CTX* mac_ctx_ = nullptr;
};

digest_contexts& thread_contexts() {
  thread_local digest_contexts contexts;
  return contexts;
}

/// Signs `text` into `out`; false when OpenSSL fails.
bool compute_sign_hex(std::string_view text, engine::sign_method method, std::string_view secret,
                      sign_hex& out) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  std::size_t digest_len = 0;
  bool ok = false;
  switch (method) {
    case engine::sign_method::md5:
      ok = thread_contexts().md5(text, digest.data(), digest_len);
      break;
    case engine::sign_method::hmac_sha256:
      ok = thread_contexts().hmac_sha256(secret, text, digest.data(), digest_len);
      break;
  }
  if (!ok || digest_len * 2 > out.chars.size()) return false;
  static constexpr char k_hex[] = "0123456789ABCDEF";
  for (std::size_t i = 0; i < digest_len; ++i) {
    out.chars[2 * i] = k_hex[digest[i] >> 4];
    out.chars[2 * i + 1] = k_hex[digest[i] & 0x0Fu];
  }
  out.size = digest_len * 2;
  return true;
}

/// The verify path's signing-string buffer: cleared, never shrunk, so after the first few
/// requests a shard builds every signing string without allocating.
std::string& thread_signing_buffer() {
  thread_local std::string buffer;
  buffer.clear();
  return buffer;
}

}  // namespace

void append_signing_string(const form_params& params, std::string_view secret, std::string& out) {
  std::size_t needed = secret.size() + 5;  // "&key=" + secret
  for (const auto& [key, value] : params) needed += key.size() + value.size() + 2;
  out.reserve(out.size() + needed);
  bool first = true;
  for (const auto& [key, value] : params) {
    if (value.empty() || key == "sign") continue;
    if (!first) out.push_back('&');
    first = false;
    out.append(key);
    out.push_back('=');
    out.append(value);
  }
  if (!first) out.push_back('&');
  out.append("key=");
  out.append(secret);
}

std::string signing_string(const form_params& params, std::string_view secret) {
  std::string out;
  append_signing_string(params, secret, out);
  return out;
}

std::string compute_sign(std::string_view signing_string, engine::sign_method method,
                         std::string_view secret) {
  sign_hex hex;
  if (!compute_sign_hex(signing_string, method, secret, hex)) {
    throw std::runtime_error("OpenSSL cannot compute " +
                             std::string(engine::sign_method_name(method)) + " signatures");
  }
  return std::string(hex.view());
}

std::string sign_params(const form_params& params, engine::sign_method method,
                        std::string_view secret) {
  std::string& text = thread_signing_buffer();
  append_signing_string(params, secret, text);
  return compute_sign(text, method, secret);
}

bool verify_sign(const form_params& params, engine::sign_method method, std::string_view secret,
                 std::string_view presented_sign) {
  std::string& text = thread_signing_buffer();
  append_signing_string(params, secret, text);
  sign_hex expected;
  if (!compute_sign_hex(text, method, secret, expected)) return false;

  // The expected length is public (32 or 64 by method), so branching on the presented length
  // leaks nothing; the content is compared in full whatever it holds.
  std::array<char, k_sign_hex_max> presented{};
  // copy_n, not memcpy: an empty std::string_view{} may carry a null data().
  std::copy_n(presented_sign.begin(), std::min(presented_sign.size(), presented.size()),
              presented.begin());
  // Spec §2: the hex digits may come in either case (PHP's md5() is lower case). Fold to upper
  // case without a branch on the secret-derived content, so the comparison stays constant-time.
  for (char& c : presented) {
    const auto byte = static_cast<unsigned char>(c);
    const unsigned is_lower = static_cast<unsigned>(byte - 'a') <= static_cast<unsigned>('z' - 'a');
    c = static_cast<char>(byte - (is_lower << 5));
  }
  const bool same_length = presented_sign.size() == expected.size;
  const bool same_content =
      CRYPTO_memcmp(presented.data(), expected.chars.data(), expected.size) == 0;
  return same_length & same_content;
}

std::optional<engine::sign_method> requested_sign_method(const form_params& params) {
  const std::string* name = params.find("sign_type");
  if (name == nullptr || name->empty()) return engine::sign_method::md5;
  return engine::sign_method_from_name(*name);
}

bool timestamp_within(std::string_view timestamp, std::int64_t now_s,
                      std::int64_t skew_s) noexcept {
  if (timestamp.empty() || timestamp.size() > 19 || skew_s < 0) return false;
  // from_chars alone would accept a leading '-'.
  if (!std::all_of(timestamp.begin(), timestamp.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  std::int64_t ts = 0;
  const auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  if (ec != std::errc{} || end != timestamp.data() + timestamp.size()) return false;
  // |ts - now_s| in unsigned arithmetic: exact for any pair of int64 values, no overflow.
  const auto a = static_cast<std::uint64_t>(ts);
  const auto b = static_cast<std::uint64_t>(now_s);
  const std::uint64_t distance = ts >= now_s ? a - b : b - a;
  return distance <= static_cast<std::uint64_t>(skew_s);
}

}  // namespace topup::protocol
