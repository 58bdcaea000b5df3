// The CUDA backend's batch planning (include/qtraj/backend/batch_plan.hpp), host-only.
#include "qtraj/backend/batch_plan.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

using namespace qtraj::cuda;

namespace {

std::vector<std::int64_t> fixed_chunks(std::int64_t total, std::int64_t chunks) {
  std::vector<std::int64_t> b;
  for (std::int64_t c = 0; c <= chunks; ++c)
    b.push_back(c * (total / chunks) + std::min<std::int64_t>(c, total % chunks));
  return b;
}

/// Batches tile [0, total) in order, each at most max_batch; segments tile each batch in order;
/// every non-empty chunk appears as consecutive pieces with the right count_before and flags.
void expect_valid(const std::vector<std::int64_t>& cb, std::int64_t max_batch) {
  const auto plan = plan_batches(cb, max_batch);
  std::int64_t t = 0;
  std::int64_t chunk = -1, seen_in_chunk = 0;
  for (const auto& b : plan) {
    EXPECT_EQ(b.begin, t);
    EXPECT_LE(b.end - b.begin, max_batch);
    EXPECT_GT(b.end - b.begin, 0);
    ASSERT_FALSE(b.segments.empty());
    std::int64_t u = b.begin;
    for (const auto& s : b.segments) {
      EXPECT_EQ(s.begin, u);
      EXPECT_GT(s.end, s.begin);
      if (s.chunk != chunk) {
        EXPECT_TRUE(s.first_piece);
        EXPECT_GT(s.chunk, chunk);
        chunk = s.chunk;
        seen_in_chunk = 0;
      } else {
        EXPECT_FALSE(s.first_piece);
      }
      EXPECT_EQ(s.begin, cb[s.chunk] + seen_in_chunk);
      EXPECT_EQ(s.count_before, seen_in_chunk);
      seen_in_chunk += s.end - s.begin;
      EXPECT_EQ(s.last_piece, s.end == cb[s.chunk + 1]);
      u = s.end;
    }
    EXPECT_EQ(u, b.end);
    t = b.end;
  }
  EXPECT_EQ(t, cb.back());
}

}  // namespace

TEST(BatchPlan, TilesRunsForManyShapes) {
  for (std::int64_t total : {1, 5, 255, 256, 257, 1000, 123457})
    for (std::int64_t max_batch : {1, 2, 3, 64, 1000, 1000000}) {
      SCOPED_TRACE(std::to_string(total) + " trajectories, max_batch " + std::to_string(max_batch));
      expect_valid(fixed_chunks(total, 256), max_batch);
    }
}

TEST(BatchPlan, FullBatchesSplitChunksAtTheirBoundaries) {
  // Chunks of 10, 10, 25, 0, 5; max_batch 20.
  const std::vector<std::int64_t> cb{0, 10, 20, 45, 45, 50};
  const auto plan = plan_batches(cb, 20);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].begin, 0);
  EXPECT_EQ(plan[0].end, 20);
  ASSERT_EQ(plan[0].segments.size(), 2u);  // chunks 0 and 1 whole
  EXPECT_EQ(plan[1].end, 40);              // chunk 2, first 20
  ASSERT_EQ(plan[1].segments.size(), 1u);
  EXPECT_FALSE(plan[1].segments[0].last_piece);
  ASSERT_EQ(plan[2].segments.size(), 2u);  // chunk 2's last 5, chunk 3 empty (skipped), chunk 4
  EXPECT_EQ(plan[2].segments[0].count_before, 20);
  EXPECT_TRUE(plan[2].segments[0].last_piece);
  EXPECT_EQ(plan[2].segments[1].chunk, 4);
}

TEST(BatchPlan, RejectsMalformedInput) {
  EXPECT_THROW(plan_batches({0, 5}, 0), std::invalid_argument);
  EXPECT_THROW(plan_batches({1, 5}, 4), std::invalid_argument);
  EXPECT_THROW(plan_batches({0, 5, 3}, 4), std::invalid_argument);
  EXPECT_TRUE(plan_batches({0, 0, 0}, 4).empty());
}

TEST(BatchPlan, CapacityFromFreeMemory) {
  // 41 times x 6 values: 1968 bytes of observables + 4 (C + 2 (1 + R)) bytes, no records.
  const std::size_t per = batch_bytes_per_trajectory(41, 6, 2, 2, 0);
  EXPECT_EQ(per, 41u * 6 * 8 + 4 * (2 + 2 * 3));
  EXPECT_EQ(batch_bytes_per_trajectory(41, 6, 2, 2, 64), per + 2 * 12 * 64);
  const std::size_t gib = std::size_t(1) << 30, mib = std::size_t(1) << 20;
  // The 256 MB cap binds on a large device ...
  EXPECT_EQ(batch_capacity(80 * gib, 10 * mib, per, 256 * mib), std::int64_t(256 * mib / per));
  // ... free memory on a small one: 0.8 x 100 MiB - 10 MiB.
  EXPECT_EQ(batch_capacity(100 * mib, 10 * mib, per, 256 * mib),
            static_cast<std::int64_t>((0.8 * 100 * mib - 10 * mib) / per));
  // Nothing fits: 0 (the runner refuses with one DeviceError line).
  EXPECT_EQ(batch_capacity(10 * mib, 9 * mib, per, 256 * mib), 0);
  EXPECT_EQ(batch_capacity(1000, 0, 4000, 256 * mib), 0);
}

TEST(BatchPlan, HistogramBinsAndFallback) {
  std::vector<std::vector<std::int64_t>> h;
  // 2 reservoirs, 3 bins, batch of 4: reservoir 0 counts {0, 1, 1, 2}, reservoir 1 {0, 0, 0, 0}.
  const std::vector<int> bins{1, 2, 1, 4, 0, 0};
  EXPECT_TRUE(add_binned_histogram(bins.data(), 3, 2, 4, h));
  EXPECT_EQ(h, (std::vector<std::vector<std::int64_t>>{{1, 2, 1}, {4}}));
  // A count of 5 falls outside 3 bins: refused, nothing added; the counted path adds it.
  const std::vector<int> short_bins{1, 1, 0, 2, 0, 0};
  EXPECT_FALSE(add_binned_histogram(short_bins.data(), 3, 2, 3, h));
  EXPECT_EQ(h, (std::vector<std::vector<std::int64_t>>{{1, 2, 1}, {4}}));
  const std::vector<int> counts{0, 1, 5, 0, 0, 0};  // reservoir-major, 3 trajectories
  add_counted_histogram(counts.data(), 2, 3, h);
  EXPECT_EQ(h, (std::vector<std::vector<std::int64_t>>{{2, 3, 1, 0, 0, 1}, {7}}));
}

TEST(BatchPlan, EnsembleCapacityShrinksTheSegmentBound) {
  const std::size_t mib = std::size_t(1) << 20;
  const std::size_t per = 10000, seg = 2 * mib;  // a large grid: 2 MiB of chunk state per segment
  // Small per-segment state: the all-chunks bound holds and the plain capacity is returned.
  EXPECT_EQ(ensemble_batch_capacity(1000 * mib, 0, 1000, 256, per, 256 * mib),
            batch_capacity(1000 * mib, 1000 * 257, per, 256 * mib));
  // 257 segments x 2 MiB = 514 MiB > 0.8 x 600 MiB: the all-chunks bound refuses, fewer fit.
  EXPECT_EQ(batch_capacity(600 * mib, seg * 257, per, 256 * mib), 0);
  const std::int64_t b = ensemble_batch_capacity(600 * mib, 0, seg, 256, per, 256 * mib);
  ASSERT_GT(b, 0);
  ASSERT_LT(b, 256);
  // b is consistent (b trajectories fit with b + 1 segments) and maximal (b + 1 do not).
  EXPECT_GE(batch_capacity(600 * mib, seg * (b + 1), per, 256 * mib), b);
  EXPECT_LT(batch_capacity(600 * mib, seg * (b + 2), per, 256 * mib), b + 1);
  // Nothing fits: 0.
  EXPECT_EQ(ensemble_batch_capacity(mib, 0, seg, 256, per, 256 * mib), 0);
}
