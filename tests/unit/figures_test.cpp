// engine/runtime/figures: the sums GET /admin/summary shows, the quantiles it computes from the
// shards' histograms, and the bounded history behind the console's chart.
#include <gtest/gtest.h>

#include <chrono>

#include <regex>
#include <string>

#include "engine/runtime/figures.hpp"
#include "protocol/console_files.hpp"

namespace {

using namespace topup::engine;
using buckets_t = std::array<std::uint64_t, latency_histogram::k_bounds_ms.size() + 1>;

std::vector<channel_config> two_channels() {
  std::vector<channel_config> channels(2);
  channels[0].id = "a";
  channels[1].id = "b";
  return channels;
}

TEST(Figures, TheSnapshotWithTheLatencyQuantilesOfEveryShard) {
  metrics_registry registry(3, two_channels());
  for (unsigned s = 0; s < 3; ++s) {
    auto& m = registry.shard(s);
    bump(m.orders_accepted, 10 + s);
    bump(m.orders_finished[4], s);
    m.channels[1]->submit_latency.observe(std::chrono::milliseconds(20));
    m.redis_latency.observe(std::chrono::microseconds(300));
  }
  const figures f = collect_figures(registry, 1234);
  EXPECT_EQ(f.at_ms, 1234);
  EXPECT_EQ(f.counts.orders_accepted, 33u);  // the registry's snapshot, summed
  EXPECT_EQ(f.counts.orders_refunded, 3u);
  ASSERT_EQ(f.latency.size(), 2u);
  EXPECT_EQ(f.latency[0].count, 0u);
  EXPECT_EQ(f.latency[0].p50_ms, 0);  // nothing observed: 0, not a bucket bound
  EXPECT_EQ(f.latency[1].count, 3u);
  // 20 ms falls in (10, 25]: every quantile inside that bucket.
  EXPECT_GT(f.latency[1].p50_ms, 10);
  EXPECT_LE(f.latency[1].p99_ms, 25);
  EXPECT_GT(f.redis_p50_ms, 0);
  EXPECT_LE(f.redis_p99_ms, 0.5);
}

TEST(Figures, QuantilesInterpolateInsideTheirBucket) {
  buckets_t b{};
  // 100 observations: 50 in (0, 0.5], 50 in (5, 10].
  b[0] = 50;
  b[4] = 50;
  EXPECT_DOUBLE_EQ(histogram_quantile_ms(b, 100, 0.25), 0.25);
  EXPECT_DOUBLE_EQ(histogram_quantile_ms(b, 100, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(histogram_quantile_ms(b, 100, 0.75), 7.5);
  EXPECT_DOUBLE_EQ(histogram_quantile_ms(b, 100, 1.0), 10);
  EXPECT_EQ(histogram_quantile_ms(buckets_t{}, 0, 0.5), 0);
  // Beyond the last bound: the last bound (the histogram knows no more).
  buckets_t over{};
  over.back() = 3;
  EXPECT_EQ(histogram_quantile_ms(over, 3, 0.99), latency_histogram::k_bounds_ms.back());
}

TEST(Figures, HistoryKeepsTheLastSamplesInOrder) {
  figures_history history(3);
  for (int i = 1; i <= 5; ++i) {
    figures f;
    f.at_ms = i * 1000;
    f.counts.orders_accepted = static_cast<std::uint64_t>(i * 10);
    f.counts.orders_refunded = static_cast<std::uint64_t>(i);
    history.record(f);
  }
  const auto samples = history.samples();
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].at_ms, 3000);
  EXPECT_EQ(samples[2].at_ms, 5000);
  EXPECT_EQ(samples[2].accepted, 50u);
  EXPECT_EQ(samples[2].refunded, 5u);
}

TEST(ConsoleFiles, IndexNamesOnlyFilesCompiledIn) {
  using topup::protocol::find_console_file;
  const auto* index = find_console_file("index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  const std::string html(index->body);
  const std::regex ref(R"re((?:src|href)="([^"]+)")re");
  int named = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator();
       ++it, ++named) {
    const std::string name = (*it)[1];
    const auto* file = find_console_file(name);
    ASSERT_NE(file, nullptr) << name << " is named by index.html but not compiled in";
    EXPECT_FALSE(file->body.empty()) << name;
  }
  EXPECT_GE(named, 5);  // icon, two stylesheets, two scripts
  EXPECT_EQ(find_console_file("console.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find_console_file("../CMakeLists.txt"), nullptr);
  EXPECT_EQ(find_console_file("vendor/uPlot.LICENSE"), nullptr);  // kept in the tree, not served
}

}  // namespace
