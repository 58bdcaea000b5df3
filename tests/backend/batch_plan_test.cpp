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

// --- chunk groups (one run_ensemble call over the whole run, docs/cuda.md section 2) ---

TEST(BatchPlan, GroupedBatchesNeverCrossAGroupEnd) {
  for (std::int64_t total : {1, 5, 255, 256, 1000, 123457})
    for (std::int64_t max_batch : {1, 3, 64, 1000, 1000000}) {
      SCOPED_TRACE(std::to_string(total) + " trajectories, max_batch " + std::to_string(max_batch));
      const auto cb = fixed_chunks(total, 256);
      std::vector<std::int64_t> ends;
      for (std::int64_t e = 16; e <= 256; e += 16) ends.push_back(e);
      const auto plan = plan_grouped_batches(cb, max_batch, ends);
      // The same tiling and segment rules as plan_batches, and each batch inside its group.
      std::int64_t t = 0;
      for (std::size_t k = 0; k < plan.size(); ++k) {
        const auto& b = plan[k];
        EXPECT_EQ(b.begin, t);
        EXPECT_GT(b.end, b.begin);
        EXPECT_LE(b.end - b.begin, max_batch);
        const std::int64_t g0 = b.group == 0 ? 0 : ends[b.group - 1], g1 = ends[b.group];
        EXPECT_GE(b.begin, cb[g0]);
        EXPECT_LE(b.end, cb[g1]);
        for (const auto& s : b.segments) {
          EXPECT_GE(s.chunk, g0);
          EXPECT_LT(s.chunk, g1);
        }
        // group_last: the next batch (if any) is in a later group; and the group ends here.
        const bool last = k + 1 == plan.size() || plan[k + 1].group != b.group;
        EXPECT_EQ(b.group_last, last);
        if (b.group_last) EXPECT_EQ(b.end, cb[g1]);
        if (k > 0) EXPECT_GE(b.group, plan[k - 1].group);
        t = b.end;
      }
      EXPECT_EQ(t, total);
    }
}

TEST(BatchPlan, OneGroupIsPlanBatches) {
  const auto cb = fixed_chunks(1000, 256);
  const auto a = plan_batches(cb, 77);
  const auto b = plan_grouped_batches(cb, 77, {256});
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].begin, b[k].begin);
    EXPECT_EQ(a[k].end, b[k].end);
    ASSERT_EQ(a[k].segments.size(), b[k].segments.size());
    EXPECT_EQ(b[k].group, 0);
    EXPECT_EQ(b[k].group_last, k + 1 == a.size());
  }
}

TEST(BatchPlan, GroupedRejectsMalformedGroups) {
  const std::vector<std::int64_t> cb{0, 5, 10, 15};
  EXPECT_THROW(plan_grouped_batches(cb, 4, {}), std::invalid_argument);
  EXPECT_THROW(plan_grouped_batches(cb, 4, {2}), std::invalid_argument);     // does not reach 3
  EXPECT_THROW(plan_grouped_batches(cb, 4, {2, 2, 3}), std::invalid_argument);
  EXPECT_THROW(plan_grouped_batches(cb, 4, {0, 3}), std::invalid_argument);
  // Empty groups (no trajectories) get no batch; the others are planned on their own.
  const auto plan = plan_grouped_batches({0, 0, 4, 4, 9}, 3, {1, 2, 3, 4});
  ASSERT_EQ(plan.size(), 4u);  // group 1: 3 + 1, group 3: 3 + 2
  EXPECT_EQ(plan[0].group, 1);
  EXPECT_FALSE(plan[0].group_last);
  EXPECT_TRUE(plan[1].group_last);
  EXPECT_EQ(plan[1].end, 4);
  EXPECT_EQ(plan[2].group, 3);
  EXPECT_EQ(plan[2].begin, 4);
}

TEST(BatchPlan, ChunkLargerThanTheByteCapIsSplitNeverTooLarge) {
  // The review's case: one chunk whose observables alone exceed the 256 MB cap (10^6 trajectories
  // of 1001 times x 6 values = 48 GB in one chunk). The capacity comes from the cap, the chunk
  // is split into batches of at most that many trajectories, each within the cap.
  const std::size_t mib = std::size_t(1) << 20, gib = std::size_t(1) << 30;
  const std::size_t per = batch_bytes_per_trajectory(1001, 6, 3, 1, 0);
  const std::int64_t cap = batch_capacity(80 * gib, 64 * mib, per, 256 * mib);
  ASSERT_GT(cap, 0);
  EXPECT_LE(static_cast<std::size_t>(cap) * per, 256 * mib);
  const std::vector<std::int64_t> cb{0, 1000000};
  EXPECT_GT(1000000 * per, 256 * mib);
  const auto plan = plan_batches(cb, cap);
  EXPECT_EQ(static_cast<std::int64_t>(plan.size()), (1000000 + cap - 1) / cap);
  for (const auto& b : plan) EXPECT_LE(static_cast<std::size_t>(b.end - b.begin) * per, 256 * mib);
  // And a device with little free memory: the run is cut smaller still, never refused while one
  // trajectory fits.
  const std::int64_t small = batch_capacity(200 * mib, 64 * mib, per, 256 * mib);
  EXPECT_GT(small, 0);
  EXPECT_LT(small, cap);
  EXPECT_LE(static_cast<std::size_t>(small) * per, static_cast<std::size_t>(0.8 * 200 * mib));
}
