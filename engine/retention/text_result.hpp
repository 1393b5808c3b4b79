#pragma once
// Results of the retention functions: a value, or a one-line message for a person (an operator
// running `topupd audit`, a log line). Their failures are about files and their contents, where
// the message (which line, which file, which errno) is the whole use of the error; no caller
// branches on a code.
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>
#include <utility>

namespace topup::engine {

/// The error side. A type of its own, not a bare std::string, and made only by fail(): so that
/// text_result<std::string> can `return text;` and `return fail("…");` unambiguously (a type
/// constructible from std::string would make both sides of the result candidates).
class failure {
 public:
  failure() = default;  // result<T, E>::error() of a value answers E(): no message
  const std::string& message() const noexcept { return message_; }
  friend failure fail(std::string message);

 private:
  explicit failure(std::string message) : message_(std::move(message)) {}
  std::string message_;
};

/// `return fail("line 3: bad cost");` from a function returning any text_result<T>.
inline failure fail(std::string message) { return failure(std::move(message)); }

/// result.value() on an error throws this (a bug in the caller: check first).
[[noreturn]] inline void throw_exception_from_error(const failure& f,
                                                    const boost::source_location&) {
  throw std::runtime_error(f.message());
}

template <class T>
using text_result = boost::system::result<T, failure>;

}  // namespace topup::engine
