// TrajectoryBatchRunner::run_ensemble (device aggregation, batches, streams) against references:
//  - exact: the device's chunk states equal the CPU Aggregator applied, chunk by chunk in index
//    order, to the same device's per-trajectory observables (runner.run): the aggregation itself
//    adds no rounding difference; and the result is bit-identical for any batch size and grid;
//  - 1e-12 relative: against the CPU backend's whole run (per-trajectory values differ at
//    rounding level: device exp/log, FMA, block reductions); histograms and jump counts equal.
// The same pipeline runs on the CPU in tests/backend/ensemble_reduction_test.cpp (bit-identical to
// the CPU backend there). Without a CUDA device every test here skips.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cuda_test_helpers.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/trajectory/aggregator.hpp"

using namespace qtraj;
using namespace qtraj::trajectory;
using namespace qtraj::cuda;
using namespace qtraj::cuda::test_support;

namespace {

struct EnsembleResult {
  Aggregator all;
  std::vector<std::vector<std::int64_t>> histogram;
  std::vector<std::vector<double>> rec_time;
  EnsembleInfo info;
};

EnsembleRequest request(const Case& c, std::int64_t total, std::int64_t chunks,
                        std::int64_t record) {
  EnsembleRequest req;
  for (std::int64_t k = 0; k <= chunks; ++k)
    req.chunk_begin.push_back(k * (total / chunks) + std::min<std::int64_t>(k, total % chunks));
  req.seed = kSeed;
  req.times = c.times;
  req.record = record;
  req.record_capacity = 4;  // small: exercises the rerun of long trajectories
  int num_res = 0;
  for (const auto& ch : c.channels) {
    req.channel_reservoir.push_back(ch.reservoir);
    num_res = std::max(num_res, ch.reservoir + 1);
  }
  req.num_reservoirs = num_res;
  return req;
}

EnsembleResult run_ensemble(const Case& c, const EnsembleRequest& req, LaunchSettings launch = {}) {
  auto runner = c.runner(launch);
  EnsembleResult r;
  const std::size_t values = c.times.size() * c.row();
  r.all = Aggregator(values);
  r.rec_time.resize(req.record);
  std::int64_t last_chunk = -1;
  EnsembleSink sink;
  sink.chunk = [&](std::int64_t chunk, std::int64_t count, const double* mean, const double* m2) {
    EXPECT_GT(chunk, last_chunk) << "chunks must arrive in order";
    last_chunk = chunk;
    r.all.merge(Aggregator::from_state(count, std::vector<double>(mean, mean + values),
                                       std::vector<double>(m2, m2 + values)));
  };
  sink.record = [&](std::int64_t t, int jumps, const double* time, const int*) {
    r.rec_time[t].assign(time, time + jumps);
  };
  runner.run_ensemble(req, sink, r.histogram);
  r.info = runner.last_ensemble();
  return r;
}

}  // namespace

TEST(CudaEnsemble, DeviceAggregationEqualsHostAggregatorOfTheSameTrajectories) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({12, 6, 2}, {"excited", "ground", "ground"}, 0.0), linear_grid(20.0, 41));
  const std::int64_t total = 3000, chunks = 256;
  const EnsembleRequest req = request(c, total, chunks, 0);
  // Reference: per-trajectory device outputs (runner.run), aggregated on the host like the CPU.
  auto runner = c.runner(LaunchSettings{});
  BatchOutput out;
  runner.run(0, total, kSeed, spectral(), c.times, 0, 0, out);
  const std::size_t values = c.times.size() * c.row();
  Aggregator host(values);
  for (std::int64_t k = 0; k < chunks; ++k) {
    Aggregator chunk(values);
    for (std::int64_t t = req.chunk_begin[k]; t < req.chunk_begin[k + 1]; ++t)
      chunk.add(out.obs_of(t));
    host.merge(chunk);
  }
  for (std::int64_t max_batch :
       {std::int64_t(0), std::int64_t(1000), std::int64_t(7), std::int64_t(5)}) {
    SCOPED_TRACE("max_batch " + std::to_string(max_batch));
    EnsembleRequest r = req;
    r.max_batch = max_batch;
    const EnsembleResult e = run_ensemble(c, r);
    expect_bitwise(e.all, host);
    if (max_batch == 5) EXPECT_GT(e.info.batches, 256) << "chunks of 11-12 split into pieces of 5";
  }
}

TEST(CudaEnsemble, BitIdenticalAcrossGridsAndEqualToCpuBackendTo1e12) {
  QTRAJ_REQUIRE_CUDA_DEVICE();
  Case c(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.2),
         linear_grid(10.0, 21));
  const std::int64_t total = 2000;
  const EnsembleRequest req = request(c, total, 256, 50);
  const EnsembleResult a = run_ensemble(c, req);
  LaunchSettings few_blocks;
  few_blocks.max_blocks = 3;
  EnsembleRequest small = req;
  small.max_batch = 33;
  const EnsembleResult b = run_ensemble(c, small, few_blocks);
  expect_bitwise(a.all, b.all);
  EXPECT_EQ(a.histogram, b.histogram);
  EXPECT_EQ(a.rec_time, b.rec_time);
  // CPU backend reference: trajectories of the CPU code, aggregated chunk by chunk.
  const std::size_t values = c.times.size() * c.row();
  Aggregator cpu(values);
  std::vector<std::vector<std::int64_t>> hist(req.num_reservoirs);
  for (std::int64_t k = 0; k < 256; ++k) {
    Aggregator chunk(values);
    for (std::int64_t t = req.chunk_begin[k]; t < req.chunk_begin[k + 1]; ++t) {
      const CpuTrajectory ref = run_cpu(c, kSeed, t, spectral(), 0);
      chunk.add(ref.obs.data());
      std::vector<int> per(req.num_reservoirs, 0);
      for (std::size_t ch = 0; ch < ref.channel_counts.size(); ++ch)
        per[req.channel_reservoir[ch]] += ref.channel_counts[ch];
      for (int r = 0; r < req.num_reservoirs; ++r) {
        if (static_cast<int>(hist[r].size()) <= per[r]) hist[r].resize(per[r] + 1, 0);
        ++hist[r][per[r]];
      }
      if (t < req.record) {
        ASSERT_EQ(a.rec_time[t].size(), static_cast<std::size_t>(ref.jumps));
      }
    }
    cpu.merge(chunk);
  }
  EXPECT_EQ(a.all.count(), cpu.count());
  for (std::size_t q = 0; q < values; ++q) {
    EXPECT_NEAR(a.all.mean(q), cpu.mean(q), 1e-12 * (1 + std::abs(cpu.mean(q))));
    EXPECT_NEAR(a.all.m2()[q], cpu.m2()[q], 1e-12 * (1 + std::abs(cpu.m2()[q])));
  }
  EXPECT_EQ(a.histogram, hist);
  EXPECT_GT(a.info.reruns, 0) << "some recorded trajectory should exceed 4 jump slots";
}
