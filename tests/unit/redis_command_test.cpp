// format_command against hiredis's own formatter: the bytes on the wire must not change.
#include <gtest/gtest.h>

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "engine/redis/command.hpp"

namespace topup::engine::redis {
namespace {

std::string hiredis_format(const std::vector<std::string>& words) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& w : words) {
    argv.push_back(w.data());
    lengths.push_back(w.size());
  }
  char* target = nullptr;
  const int n = redisFormatCommandArgv(&target, static_cast<int>(words.size()), argv.data(),
                                       lengths.data());
  EXPECT_GT(n, 0);
  std::string out(target, static_cast<std::size_t>(n));
  std::free(target);
  return out;
}

TEST(RedisCommand, FormatIsHiredisFormatByteForByte) {
  const std::vector<std::vector<std::string>> cases = {
      {"PING"},
      {"SET", "k", ""},
      {"HSET", "o", "T1", std::string("a\x1f" "b\r\n\0c", 8)},
      {"EVALSHA", std::string(40, 'f'), "6", "k1", "k2", "k3", "k4", "k5", "k6", "i", "1", "9"},
      {"XADD", "log", "*", "e", std::string(100000, 'x')},
  };
  for (const auto& words : cases) EXPECT_EQ(format_command(words), hiredis_format(words));
}

TEST(RedisCommand, ManyWordsCountInTheHeader) {
  std::vector<std::string> words(1234, "w");
  const auto out = format_command(words);
  EXPECT_EQ(out.rfind("*1234\r\n$1\r\nw\r\n", 0), 0u);
  EXPECT_EQ(out, hiredis_format(words));
}

}  // namespace
}  // namespace topup::engine::redis
