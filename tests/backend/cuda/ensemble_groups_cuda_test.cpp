// run_ensemble over a whole run with chunk groups (docs/cuda.md section 2): one call, one pipeline,
// the groups handed over in order with their own histograms; buffers kept by the runner from one
// call to the next; a stop request ends the call after the batches in flight. Without a CUDA device
// every test here skips. The planning itself is tested on the CPU (tests/backend/batch_plan_test.cpp).
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <vector>

#include "cuda_test_helpers.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/trajectory/aggregator.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::cuda;
using namespace qtraj::cuda::test_support;

namespace {

using Histogram = std::vector<std::vector<std::int64_t>>;

EnsembleRequest grouped_request(const Case& c, std::int64_t total, std::int64_t group_chunks) {
  EnsembleRequest req;
  for (std::int64_t k = 0; k <= 256; ++k)
    req.chunk_begin.push_back(k * (total / 256) + std::min<std::int64_t>(k, total % 256));
  for (std::int64_t e = group_chunks; e <= 256; e += group_chunks) req.group_end.push_back(e);
  if (req.group_end.empty() || req.group_end.back() != 256) req.group_end.push_back(256);
  req.seed = kSeed;
  req.times = c.times;
  req.record = 40;
  req.record_capacity = 4;
  int num_res = 0;
  for (const auto& ch : c.channels) {
    req.channel_reservoir.push_back(ch.reservoir);
    num_res = std::max(num_res, ch.reservoir + 1);
  }
  req.num_reservoirs = num_res;
  return req;
}

struct GroupedResult {
  Aggregator all;
  Histogram histogram, summed_groups;
  std::vector<std::int64_t> group_chunk_end;
  std::vector<std::vector<double>> rec_time;
  EnsembleInfo info;
};

/// Runs `req` on `runner`, checking the sink contract as it goes: chunks in order, each group
/// announced after all of its chunks and records, its histogram counting exactly its trajectories.
GroupedResult run_grouped(TrajectoryBatchRunner& runner, const Case& c, const EnsembleRequest& req,
                          const std::function<void(int)>& after_group = {}) {
  GroupedResult r;
  const std::size_t values = c.times.size() * c.row();
  r.all = Aggregator(values);
  r.summed_groups.resize(req.num_reservoirs);
  r.rec_time.resize(req.record);
  std::int64_t last_chunk = -1;
  std::vector<bool> recorded(req.record, false);
  EnsembleSink sink;
  sink.chunk = [&](std::int64_t chunk, std::int64_t count, const double* mean, const double* m2) {
    EXPECT_GT(chunk, last_chunk) << "chunks must arrive in order";
    last_chunk = chunk;
    r.all.merge(Aggregator::from_state(count, std::vector<double>(mean, mean + values),
                                       std::vector<double>(m2, m2 + values)));
  };
  sink.record = [&](std::int64_t t, int jumps, const double* time, const int*) {
    r.rec_time[t].assign(time, time + jumps);
    recorded[t] = true;
  };
  sink.group = [&](int g, std::int64_t chunk_end, const Histogram& h) {
    EXPECT_EQ(g, static_cast<int>(r.group_chunk_end.size())) << "groups in order";
    EXPECT_EQ(chunk_end, req.group_end[g]);
    const std::int64_t begin = g == 0 ? 0 : req.group_end[g - 1];
    const std::int64_t trajectories = req.chunk_begin[chunk_end] - req.chunk_begin[begin];
    // Every chunk of the group is in (the last non-empty one at least), and its records.
    if (trajectories > 0) EXPECT_GE(last_chunk, begin);
    EXPECT_LT(last_chunk, chunk_end);
    for (std::int64_t t = req.chunk_begin[begin]; t < std::min(req.chunk_begin[chunk_end], req.record); ++t)
      EXPECT_TRUE(recorded[t]) << "record of trajectory " << t << " before its group";
    for (const auto& per_res : h) {
      std::int64_t n = 0;
      for (std::int64_t k : per_res) n += k;
      EXPECT_EQ(n, trajectories) << "group " << g << ": its histogram counts its trajectories";
    }
    for (std::size_t res = 0; res < h.size(); ++res) {
      auto& s = r.summed_groups[res];
      if (s.size() < h[res].size()) s.resize(h[res].size(), 0);
      for (std::size_t k = 0; k < h[res].size(); ++k) s[k] += h[res][k];
    }
    r.group_chunk_end.push_back(chunk_end);
    if (after_group) after_group(g);
  };
  runner.run_ensemble(req, sink, r.histogram);
  r.info = runner.last_ensemble();
  return r;
}

}  // namespace

TEST(CudaEnsembleGroups, GroupsInOrderWithTheirHistogramsAndTheSameBitsAsOneGroup) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.1), linear_grid(10.0, 21));
  auto runner = c.runner(LaunchSettings{});
  EnsembleRequest one = grouped_request(c, 3000, 256);
  one.max_batch = 100;
  const GroupedResult a = run_grouped(runner, c, one);
  EXPECT_EQ(a.info.groups, 1);
  for (std::int64_t group_chunks : {16, 7}) {
    SCOPED_TRACE("groups of " + std::to_string(group_chunks) + " chunks");
    EnsembleRequest req = grouped_request(c, 3000, group_chunks);
    req.max_batch = 100;  // several batches per group, and remainders at group ends
    const GroupedResult b = run_grouped(runner, c, req);
    EXPECT_EQ(b.info.groups, static_cast<int>(req.group_end.size()));
    EXPECT_FALSE(b.info.stopped);
    expect_bitwise(a.all, b.all);
    EXPECT_EQ(a.histogram, b.histogram);
    EXPECT_EQ(b.histogram, b.summed_groups);
    EXPECT_EQ(a.rec_time, b.rec_time);
  }
}

TEST(CudaEnsembleGroups, FewerTrajectoriesThanChunksAnnouncesEmptyGroupsToo) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({6, 3}, {"excited", "ground"}, 0.0), linear_grid(5.0, 11));
  auto runner = c.runner(LaunchSettings{});
  const GroupedResult r = run_grouped(runner, c, grouped_request(c, 20, 16));
  EXPECT_EQ(r.info.groups, 16);  // 20 trajectories: chunks 0..19 have one, the rest none
  EXPECT_EQ(r.all.count(), 20);
}

TEST(CudaEnsembleGroups, BuffersPersistAcrossCalls) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(10.0, 21));
  auto runner = c.runner(LaunchSettings{});
  const EnsembleRequest req = grouped_request(c, 4000, 16);
  const GroupedResult first = run_grouped(runner, c, req);
  EXPECT_GT(first.info.allocations, 0);
  const GroupedResult second = run_grouped(runner, c, req);
  EXPECT_EQ(second.info.allocations, 0) << "a repeat call of the same shape allocates nothing";
  expect_bitwise(first.all, second.all);
  EXPECT_EQ(first.histogram, second.histogram);
  // A smaller request reuses the larger buffers as well.
  const GroupedResult small = run_grouped(runner, c, grouped_request(c, 500, 16));
  EXPECT_EQ(small.info.allocations, 0);
}

TEST(CudaEnsembleGroups, StopEndsTheCallAfterTheBatchesInFlight) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(10.0, 21));
  auto runner = c.runner(LaunchSettings{});
  std::atomic<bool> stop{false};
  EnsembleRequest req = grouped_request(c, 6000, 16);
  req.max_batch = 150;  // ~2.5 batches per group
  req.stop = &stop;
  const GroupedResult stopped = run_grouped(runner, c, req, [&](int) { stop = true; });
  EXPECT_TRUE(stopped.info.stopped);
  EXPECT_GE(stopped.info.groups, 1);
  EXPECT_LT(stopped.info.groups, 16) << "at most the batches in flight finish after the stop";
  // The same runner, no stop: the whole run, and its first groups equal the stopped call's.
  stop = false;
  req.stop = nullptr;
  const GroupedResult full = run_grouped(runner, c, req);
  EXPECT_EQ(full.info.groups, 16);
  EXPECT_EQ(full.all.count(), 6000);
}
