#pragma once
// A self-signed certificate and its key, made with the OpenSSL API at run time: for the TLS
// end-to-end tests (tests/e2e/tls_test.cpp) and `topup-bench tls-cert` (bench/run.sh on a box
// without the openssl command), so that no certificate is committed and none expires in the tree.
#include <string>

namespace topup::test {

struct pem_pair {
  std::string cert_pem;
  std::string key_pem;  ///< PKCS#8, unencrypted
};

/// A fresh P-256 key and a self-signed certificate for `host` (its CN and subjectAltName: an IP
/// literal as IP, anything else as DNS), valid from an hour ago for `valid_days` days. Throws
/// std::runtime_error if OpenSSL fails.
pem_pair make_self_signed_cert(const std::string& host = "127.0.0.1", int valid_days = 30);

/// `key_pem` again, encrypted with `passphrase` (PKCS#8, AES-256-CBC): a key a server cannot
/// load without asking someone.
std::string encrypted_key_pem(const std::string& key_pem, const std::string& passphrase);

struct tls_file_paths {
  std::string cert_path;
  std::string key_path;
};

/// Writes make_self_signed_cert(host) as `<dir>/<name>.cert.pem` and `<dir>/<name>.key.pem`
/// (the key 0600). Throws std::runtime_error if a file cannot be written.
tls_file_paths write_self_signed_cert(const std::string& dir, const std::string& name = "server",
                                      const std::string& host = "127.0.0.1");

}  // namespace topup::test
