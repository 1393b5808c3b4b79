// The pure parts of trimming the merchants' logs (engine/retention/log_trimmer, docs/STORAGE.md
// "Trimming the log"): where a log may be trimmed up to, the checkpoint's fields, and the lines
// of the log's files.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "engine/retention/archive.hpp"
#include "engine/retention/business_day.hpp"
#include "engine/retention/log_trimmer.hpp"
#include "engine/store/log_checkpoint.hpp"

namespace topup::engine {
namespace {

constexpr std::int64_t k_offset_s = 8 * 3600;
constexpr std::int64_t k_day_ms = 86'400'000;
// 2023-11-15 06:13:20 UTC, 14:13:20 at +08:00: business day 20231115.
constexpr std::int64_t k_now_ms = 1'700'028'800'000;

TEST(LogTrimBound, WithoutAStatementMadeTheLogIsNotTrimmed) {
  EXPECT_EQ(log_trim_bound_ms(k_now_ms, 1000, std::nullopt, std::nullopt, k_offset_s),
            std::nullopt);
  EXPECT_EQ(log_trim_bound_ms(k_now_ms, 1000, std::nullopt, "2023-11-14", k_offset_s),
            std::nullopt);
  EXPECT_EQ(log_trim_bound_ms(k_now_ms, 1000, std::nullopt, "", k_offset_s), std::nullopt);
}

TEST(LogTrimBound, TheLeastOfTheWindowTheOldestOrderLessAMinuteAndTheLastDayStated) {
  const auto today = business_day::day_of(k_now_ms, k_offset_s);
  const std::int64_t end_of_yesterday = today.prev().end_ms(k_offset_s);
  const std::string yesterday = today.prev().to_string();
  const std::string today_text = today.to_string();
  // The window: today stated, no order in Redis.
  EXPECT_EQ(log_trim_bound_ms(k_now_ms, 1000, std::nullopt, today_text, k_offset_s),
            k_now_ms - 1000);
  // The last day stated ends before the window does.
  EXPECT_EQ(log_trim_bound_ms(k_now_ms, 1000, std::nullopt, yesterday, k_offset_s),
            end_of_yesterday);
  EXPECT_EQ(end_of_yesterday, today.start_ms(k_offset_s));
  // An order still in `t`: its whole history stays, with a minute for the clocks.
  EXPECT_EQ(log_trim_bound_ms(k_now_ms, 1000, k_now_ms - 5000, today_text, k_offset_s),
            k_now_ms - 5000 - log_trimmer::k_clock_margin_ms);
  EXPECT_EQ(log_trim_bound_ms(k_now_ms, 7 * k_day_ms, k_now_ms - 5000, today_text, k_offset_s),
            k_now_ms - 7 * k_day_ms);
  // Nothing to trim before the epoch.
  EXPECT_EQ(log_trim_bound_ms(k_now_ms, k_now_ms, std::nullopt, today_text, k_offset_s),
            std::nullopt);
}

TEST(LogCheckpoint, ItsFieldsRoundTripAndAnUnreadableOneIsNamed) {
  const log_checkpoint c{.id = "1700000000000-12", .balance_fen = 80, .credits_fen = 100,
                         .debits_fen = 30, .refunds_fen = 10, .refs = 2, .refs_fen = 100,
                         .entries = 9, .money_entries = 7, .orders = 3,
                         .at_ms = 1'700'000'000'123};
  field_pairs fields;
  const auto values = checkpoint_values(c);
  ASSERT_EQ(values.size(), std::size(k_checkpoint_fields));
  for (std::size_t i = 0; i < values.size(); ++i) fields.emplace_back(k_checkpoint_fields[i], values[i]);
  std::string bad;
  auto back = checkpoint_from_fields(fields, bad);
  ASSERT_TRUE(back) << bad;
  EXPECT_EQ(*back, c);

  fields[3].second = "1e3";  // debits
  EXPECT_FALSE(checkpoint_from_fields(fields, bad));
  EXPECT_EQ(bad, "debits");
  fields[3].second = "30";
  fields[0].second = "17-x";
  EXPECT_FALSE(checkpoint_from_fields(fields, bad));
  EXPECT_EQ(bad, "id");
  fields[0].second = c.id;
  fields.pop_back();
  EXPECT_FALSE(checkpoint_from_fields(fields, bad));
  EXPECT_EQ(bad, "at");
}

TEST(LogCheckpoint, StreamIdsCompareAsNumbers) {
  EXPECT_LT(*parse_stream_id("9-5"), *parse_stream_id("10-0"));
  EXPECT_LT(*parse_stream_id("10-2"), *parse_stream_id("10-10"));
  EXPECT_FALSE(parse_stream_id("10"));
  EXPECT_FALSE(parse_stream_id("-1"));
  EXPECT_FALSE(parse_stream_id("1-"));
  EXPECT_FALSE(parse_stream_id("1-2-3"));
  EXPECT_EQ(stream_id_after("10-2"), "10-3");
  EXPECT_EQ(stream_id_after("10-18446744073709551615"), "11-0");
}

TEST(LogArchiveLine, AnyEntryRoundTripsOnOneLine) {
  order_event e;
  e.id = "1700000000000-7";
  e.fields = {{"e", "cb"}, {"o", "T1"}, {"v", "3"}, {"body", "a\nb\r\\c \x1f d \x1e e"},
              {"err", ""}};
  const std::string line = log_archive_line(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  auto back = log_entry_from_archive_line(line);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, e.id);
  EXPECT_EQ(back->fields, e.fields);
  EXPECT_FALSE(log_entry_from_archive_line(line + "\\"));
  EXPECT_FALSE(log_entry_from_archive_line(""));
  EXPECT_FALSE(log_entry_from_archive_line("1-0\x1f" "e"));  // a name without its value
}

}  // namespace
}  // namespace topup::engine
