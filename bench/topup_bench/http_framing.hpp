#pragma once
// Just enough HTTP/1.1 framing for a load generator and a callback sink: find where one message
// ends in a receive buffer (headers + Content-Length body), and pick the few fields the bench
// looks at. Deliberately not Beast: the client must cost as little CPU as possible, since it
// shares two cores with the server it measures.
#include <cstddef>
#include <optional>
#include <string_view>

namespace topup::bench {

/// One complete message found at the start of a buffer; the views point into that buffer.
struct http_message {
  std::size_t total_bytes = 0;  ///< header block + body: what to consume from the buffer
  int status = 0;               ///< responses only: the status code
  std::string_view start_line;  ///< "HTTP/1.1 200 OK" or "POST /cb HTTP/1.1"
  std::string_view body;
  bool close = false;  ///< "Connection: close" was sent
};

/// What frame_message found.
enum class frame_result { complete, need_more, malformed };

/// Looks for one whole message at the start of `buffer`. Messages must carry Content-Length (or
/// no body at all); chunked transfer coding is reported as malformed, since neither topupd's
/// server nor its callback client uses it. `max_header_bytes` bounds the search for the header
/// end.
frame_result frame_message(std::string_view buffer, http_message& out,
                           std::size_t max_header_bytes = 16384);

/// The value of `key` in an application/x-www-form-urlencoded body, raw (not percent-decoded):
/// enough for the digits and [A-Za-z0-9_-] values the bench reads. nullopt when absent.
std::optional<std::string_view> form_value(std::string_view body, std::string_view key);

/// The four-digit `code` of a topupd JSON envelope, e.g. "0000"; empty when there is none.
std::string_view envelope_code(std::string_view body);

}  // namespace topup::bench
