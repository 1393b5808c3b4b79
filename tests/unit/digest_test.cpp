// engine::sha1_hex: the script names Redis knows and the orders' idempotency fingerprints;
// engine::sha256_hex: the daily statements' manifest.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "engine/support/digest.hpp"

namespace {

using topup::engine::sha1_hex;
using topup::engine::sha256_hex;

TEST(Digest, Sha1HexMatchesTheStandardVectors) {
  // FIPS 180 test vectors.
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

TEST(Digest, Sha256HexMatchesTheStandardVectors) {
  // FIPS 180 test vectors; the statement manifest must agree with `sha256sum`.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // One context serves both algorithms in turn without mixing them.
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, TheReusedContextCarriesNothingFromOneDigestToTheNext) {
  const std::string long_text(10'000, 'x');
  const std::string first = sha1_hex(long_text);
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha1_hex(long_text), first);
}

TEST(Digest, EachThreadHashesWithItsOwnContext) {
  std::string other;
  std::thread t([&] { other = sha1_hex("abc"); });
  const std::string here = sha1_hex("abc");
  t.join();
  EXPECT_EQ(other, here);
  EXPECT_EQ(here, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

}  // namespace
