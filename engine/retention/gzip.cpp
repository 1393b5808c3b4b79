#include "engine/retention/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>

#include "engine/support/assert.hpp"

namespace topup::engine {
namespace {

// windowBits 15 (the largest window) + 16: zlib writes and reads a gzip wrapper, not zlib's own.
inline constexpr int k_gzip_window_bits = 15 + 16;
inline constexpr int k_memory_level = 8;  // zlib's default
inline constexpr std::size_t k_chunk_bytes = 64 * 1024;

/// zlib's avail_in/avail_out are 32-bit: feed and drain in pieces no larger.
uInt piece(std::size_t n) { return static_cast<uInt>(std::min<std::size_t>(n, 1U << 30)); }

/// Owns a z_stream set up for gzip, ended on destruction.
struct deflate_stream {
  z_stream z{};
  deflate_stream() {
    // Level 9: a statement is compressed once and kept for years. Only out of memory fails
    // here, and nothing else the process does would get far without memory either.
    const int rc = deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, k_gzip_window_bits,
                                k_memory_level, Z_DEFAULT_STRATEGY);
    TOPUP_ASSERT(rc == Z_OK);
  }
  ~deflate_stream() { deflateEnd(&z); }
  deflate_stream(const deflate_stream&) = delete;
  deflate_stream& operator=(const deflate_stream&) = delete;
};

/// Owns a z_stream set up for gunzip; `ok` false when zlib could not start (out of memory), which
/// gunzip reports rather than asserts: it reads files, and a failure there is an answer.
struct inflate_stream {
  z_stream z{};
  bool ok = inflateInit2(&z, k_gzip_window_bits) == Z_OK;
  ~inflate_stream() {
    if (ok) inflateEnd(&z);
  }
  inflate_stream() = default;
  inflate_stream(const inflate_stream&) = delete;
  inflate_stream& operator=(const inflate_stream&) = delete;
};

/// Sets zlib's input to as much of `rest` as it takes in one go; returns how much that was.
std::size_t feed(z_stream& z, std::string_view rest) {
  const uInt n = piece(rest.size());
  // zlib's API takes non-const input it never writes (ZLIB_CONST is not set in Debian's build).
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest.data()));
  z.avail_in = n;
  return n;
}

/// One zlib step: refills zlib's input from `rest` once it has used up the last piece, gives
/// it a fresh output chunk, runs `step` (deflate or inflate), appends what it wrote to `out`.
template <class Step>
int run_step(z_stream& z, std::string_view& rest, std::string& out, Step step) {
  if (z.avail_in == 0 && !rest.empty()) rest.remove_prefix(feed(z, rest));
  std::array<char, k_chunk_bytes> chunk;
  z.next_out = reinterpret_cast<Bytef*>(chunk.data());
  z.avail_out = static_cast<uInt>(chunk.size());
  const int rc = step(z);
  out.append(chunk.data(), chunk.size() - z.avail_out);
  return rc;
}

}  // namespace

std::string gzip(std::string_view data) {
  deflate_stream d;
  std::string out;
  out.reserve(data.size() / 4 + 64);
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    rc = run_step(d.z, data, out, [&](z_stream& z) {
      return deflate(&z, data.empty() && z.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH);
    });
    TOPUP_ASSERT(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR);  // deflate cannot fail
  }
  return out;
}

text_result<std::string> gunzip(std::string_view bytes, std::size_t max_bytes) {
  inflate_stream i;
  if (!i.ok) return fail("gunzip: zlib cannot start (out of memory)");
  std::string out;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    rc = run_step(i.z, bytes, out, [](z_stream& z) { return inflate(&z, Z_NO_FLUSH); });
    // With a fresh output chunk every step, "no progress" can only mean "no input left".
    if (rc == Z_BUF_ERROR && bytes.empty() && i.z.avail_in == 0) {
      return fail("gunzip: truncated (the gzip stream does not end)");
    }
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      return fail(std::string("gunzip: not valid gzip (") + (i.z.msg ? i.z.msg : "zlib error") +
                  ")");
    }
    if (out.size() > max_bytes) {
      return fail("gunzip: more than " + std::to_string(max_bytes) + " bytes of text");
    }
  }
  if (i.z.avail_in != 0 || !bytes.empty()) return fail("gunzip: bytes after the gzip stream");
  return out;
}

}  // namespace topup::engine
