// The CUDA backend's ensemble pipeline (kernels/trajectory_ensemble_runner.cu) emulated on the CPU
// with the very code the kernels run: the batch plan (batch_plan.hpp), the trajectory kernel's body
// (run_batch_trajectory, trajectory_batch.cuh, SerialTeam, grid-stride order, per-propagator
// workspace), the per-chunk Welford reduction (reduce_segment_tile, chunk_reduction.cuh, run by
// emulated blocks of 1, 7, 32, 65 and 128 threads and by a real ThreadTeam), split chunks carried
// across batches, the histogram (device bins or the host fallback) and the jump records.
// The result must be bit-identical to the CPU backend's whole run (run_trajectories_cpu) for every
// batch size and block size: that is the guarantee docs/cuda.md section 7 states for the device
// aggregation (per-trajectory values on a GPU differ from the CPU's at rounding level; the
// aggregation of the values adds nothing to that).
// What this cannot check: CUDA streams, CUB, pinned copies (qtraj_cuda_tests does, on a GPU).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bundle_staging.cuh"
#include "chunk_reduction.cuh"
#include "qtraj/backend/batch_plan.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/backend/thread_team.hpp"
#include "qtraj/trajectory/propagators.hpp"
#include "trajectory/run.hpp"
#include "trajectory/test_helpers.hpp"
#include "trajectory_batch.cuh"

using namespace qtraj;
using namespace qtraj::backend;
using namespace qtraj::cuda;
using namespace qtraj::trajectory;
using qtraj::trajectory::testing::make_model;

namespace {

/// rank/size of one emulated thread of a reduction block (the reduction needs no barrier).
struct RankOf {
  int r, s;
  int rank() const { return r; }
  int size() const { return s; }
};

/// The kernel body of the run's propagator, as the runner picks it (with_propagator, with the
/// settings cuda_trajectories.cpp passes: gpu_run_trajectories), in its own workspace size.
long long scratch_of(const TrajectoryRun& run, int max_dim) {
  return with_propagator(run.propagator, run.propagator_params,
                         [&](auto prototype) { return decltype(prototype)::scratch_doubles(max_dim); });
}
void run_body(SerialTeam& team, const TrajectoryRun& run, const TrajectoryBatchArgs& args,
              const TrajectoryWorkspace& ws, std::int64_t t) {
  with_propagator(run.propagator, run.propagator_params, [&](auto prototype) {
    run_batch_trajectory(team, args, prototype, ws, t);
  });
}

struct Emulated {
  Aggregator all;
  std::vector<std::vector<std::int64_t>> histogram;
  std::vector<std::vector<double>> rec_time;
  std::vector<std::vector<int>> rec_channel;
  int batches = 0, fallbacks = 0, split_chunks = 0, reruns = 0;
};

/// The device ensemble of `run` on the CPU: batches of at most max_batch trajectories, `grid`
/// blocks in grid-stride order, reduction blocks of `block` threads (0: a real ThreadTeam of 7),
/// `bins` histogram bins per reservoir; group_chunks > 0: batches planned per chunk group of that
/// many chunks (plan_grouped_batches, the CUDA backend's one-call pipeline with segments).
Emulated emulate(TrajectoryRun& run, std::int64_t max_batch, int grid, int block, int bins,
                 std::int64_t group_chunks = 0) {
  const int m = run.m, c = static_cast<int>(run.channels.size()), n_res = run.num_reservoirs;
  const long long num_values = static_cast<long long>(run.n_t) * run.row;
  // Bundles staged as the runner stages them (host pointers instead of device copies).
  std::vector<DeviceBundle> bundles;
  long long table_size = 1;
  for (int i = 0; i < m; ++i) table_size *= run.weight_begin[i + 1] - run.weight_begin[i];
  std::vector<int> table(static_cast<std::size_t>(table_size), -1);
  int max_dim = 1;
  for (const auto& choice : drawable_choices(run.weights, run.weight_begin)) {
    table[choice_key(run.weight_begin.data(), m, choice.data())] = static_cast<int>(bundles.size());
    bundles.push_back(
        stage_bundle(run.cache->get(choice), "",
                     [](const auto* src, std::size_t, const std::string&) { return src; }));
    max_dim = std::max(max_dim, bundles.back().view.max_sector_dim);
  }
  std::vector<int> channel_reservoir;
  for (const auto& ch : run.channels) channel_reservoir.push_back(ch.reservoir);
  std::vector<std::int64_t> chunk_begin;
  for (std::int64_t k = 0; k <= kNumChunks; ++k) chunk_begin.push_back(run.chunk_begin(k));
  const int cap = 64;

  Emulated e;
  e.all = Aggregator(static_cast<std::size_t>(num_values));
  e.rec_time.resize(run.record);
  e.rec_channel.resize(run.record);
  const long long scratch = scratch_of(run, max_dim);
  std::vector<double> work(
      static_cast<std::size_t>(TrajectoryWorkspace::doubles_needed(max_dim, c, scratch)));
  const TrajectoryWorkspace ws = TrajectoryWorkspace::carve(work.data(), max_dim, c, scratch);
  std::vector<double> carry(2 * num_values, -1.0);
  std::vector<std::int64_t> group_end;
  for (std::int64_t e = group_chunks; group_chunks > 0 && e < kNumChunks; e += group_chunks)
    group_end.push_back(e);
  group_end.push_back(kNumChunks);
  for (const PlannedBatch& b : plan_grouped_batches(chunk_begin, max_batch, group_end)) {
    ++e.batches;
    const std::int64_t count = b.end - b.begin;
    std::vector<double> obs(count * num_values, -99.0);
    std::vector<int> jumps(count, -7), counts(count * c, -7), res_counts(count * n_res, -7);
    const std::int64_t rec_rows = std::max<std::int64_t>(0, std::min(count, run.record - b.begin));
    std::vector<double> rec_time(rec_rows * cap);
    std::vector<int> rec_channel(rec_rows * cap);
    TrajectoryBatchArgs args;
    args.d_bundles = bundles.data();
    args.d_bundle_of_choice = table.data();
    args.d_weights = run.weights.data();
    args.d_weight_begin = run.weight_begin.data();
    args.num_domains = m;
    args.num_channels = c;
    args.max_dim = max_dim;
    args.seed = run.settings.seed;
    args.first = run.first + b.begin;
    args.count = count;
    args.d_times = run.times.data();
    args.num_times = run.n_t;
    args.d_obs = obs.data();
    args.d_jumps = jumps.data();
    args.d_channel_counts = counts.data();
    args.d_jump_time = rec_time.data();
    args.d_jump_channel = rec_channel.data();
    args.jump_capacity = run.record > 0 ? cap : 0;
    args.record_end = run.first + run.record;
    args.d_channel_reservoir = channel_reservoir.data();
    args.num_reservoirs = n_res;
    args.d_reservoir_counts = res_counts.data();
    SerialTeam team;
    for (int blk = 0; blk < grid; ++blk)
      for (std::int64_t t = args.first + blk; t < args.first + count; t += grid)
        run_body(team, run, args, ws, t);
    for (int j : jumps) EXPECT_GE(j, 0);

    const std::vector<ReductionSegment> segs = reduction_segments(b);
    std::vector<double> mean(segs.size() * num_values, -5.0), m2(segs.size() * num_values, -5.0);
    ChunkReduceArgs red;
    red.d_obs = obs.data();
    red.num_values = num_values;
    red.d_segments = segs.data();
    red.num_segments = static_cast<int>(segs.size());
    red.d_mean = mean.data();
    red.d_m2 = m2.data();
    red.d_carry_mean = carry.data();
    red.d_carry_m2 = carry.data() + num_values;
    for (int s = 0; s < red.num_segments; ++s) {
      if (block == 0) {  // real concurrency: one tile of all values, 7 threads
        run_thread_team(7, [&](ThreadTeam& tt) { reduce_segment_tile(tt, red, s, 0, num_values); });
        continue;
      }
      // Blocks of `block` threads over tiles of `block` values, as gpu_reduce_chunks launches.
      for (long long v0 = 0; v0 < num_values; v0 += block)
        for (int r = 0; r < block; ++r) {
          RankOf th{r, block};
          reduce_segment_tile(th, red, s, v0, std::min<long long>(v0 + block, num_values));
        }
    }
    for (std::size_t k = 0; k < segs.size(); ++k) {
      if (!b.segments[k].last_piece) continue;
      if (!b.segments[k].first_piece) ++e.split_chunks;
      e.all.merge(Aggregator::from_state(
          b.segments[k].count_before + (segs[k].end - segs[k].begin),
          std::vector<double>(mean.begin() + k * num_values, mean.begin() + (k + 1) * num_values),
          std::vector<double>(m2.begin() + k * num_values, m2.begin() + (k + 1) * num_values)));
    }
    // Histogram: cub::DeviceHistogram's unit bins [0, bins) (out-of-range samples dropped), or the
    // host count when something fell outside.
    std::vector<int> binned(static_cast<std::size_t>(n_res) * bins, 0);
    for (int r = 0; r < n_res; ++r)
      for (std::int64_t i = 0; i < count; ++i) {
        const int k = res_counts[r * count + i];
        if (k >= 0 && k < bins) ++binned[r * bins + k];
      }
    if (!add_binned_histogram(binned.data(), bins, n_res, count, e.histogram)) {
      ++e.fallbacks;
      add_counted_histogram(res_counts.data(), n_res, count, e.histogram);
    }
    for (std::int64_t r = 0; r < rec_rows; ++r) {
      if (jumps[r] > cap) {  // the runner's rerun: the same trajectory alone, room for every jump
        ++e.reruns;
        std::vector<double> one_obs(num_values), one_time(jumps[r]);
        std::vector<int> one_jumps(1), one_counts(c), one_res(n_res), one_channel(jumps[r]);
        TrajectoryBatchArgs one = args;
        one.first = args.first + r;
        one.count = 1;
        one.d_obs = one_obs.data();
        one.d_jumps = one_jumps.data();
        one.d_channel_counts = one_counts.data();
        one.d_reservoir_counts = one_res.data();
        one.d_jump_time = one_time.data();
        one.d_jump_channel = one_channel.data();
        one.jump_capacity = jumps[r];
        run_body(team, run, one, ws, one.first);
        EXPECT_EQ(one_jumps[0], jumps[r]);
        e.rec_time[b.begin + r] = one_time;
        e.rec_channel[b.begin + r] = one_channel;
        continue;
      }
      e.rec_time[b.begin + r].assign(rec_time.begin() + r * cap,
                                     rec_time.begin() + r * cap + jumps[r]);
      e.rec_channel[b.begin + r].assign(rec_channel.begin() + r * cap,
                                        rec_channel.begin() + r * cap + jumps[r]);
    }
  }
  return e;
}

void expect_bit_identical(const Emulated& e, const Tally& cpu) {
  ASSERT_EQ(e.all.count(), cpu.all.count());
  ASSERT_EQ(e.all.size(), cpu.all.size());
  for (std::size_t i = 0; i < cpu.all.size(); ++i) {
    ASSERT_EQ(e.all.means()[i], cpu.all.means()[i]) << "value " << i;
    ASSERT_EQ(e.all.m2()[i], cpu.all.m2()[i]) << "value " << i;
  }
  EXPECT_EQ(e.histogram, cpu.histogram);
  EXPECT_EQ(e.rec_time, cpu.rec_time);
  EXPECT_EQ(e.rec_channel, cpu.rec_channel);
}

struct RunCase {
  Model model;
  SolverSettings settings;
  TimeGrid grid;
  RunCase(Model m, std::int64_t trajectories, double end, int points, std::int64_t first = 0,
          const std::string& propagator = "auto")
      : model(std::move(m)) {
    settings.propagator = propagator;
    settings.kind = "trajectories";
    settings.trajectories = trajectories;
    settings.seed = 77;
    settings.threads = 2;
    settings.record_jumps = 20;
    settings.first_trajectory = first;
    grid.end = end;
    grid.points = points;
  }
};

void check_all_shapes(const RunCase& rc, int bins) {
  TrajectoryRun run(rc.model, rc.settings, rc.grid);
  Tally cpu(run);
  run_trajectories_cpu(run, cpu, {});
  // Batch sizes: one batch, chunk-aligned-ish, odd, and 1 and 2 (every chunk split).
  for (std::int64_t max_batch :
       {run.total, std::int64_t(97), std::int64_t(7), std::int64_t(2), std::int64_t(1)}) {
    for (int block : {1, 7, 32, 65, 128}) {
      SCOPED_TRACE("max_batch " + std::to_string(max_batch) + ", reduction block " +
                   std::to_string(block));
      const int grid = 1 + static_cast<int>(max_batch % 5);
      const Emulated e = emulate(run, max_batch, grid, block, bins);
      expect_bit_identical(e, cpu);
      const std::int64_t largest_chunk = (run.total + kNumChunks - 1) / kNumChunks;
      if (largest_chunk > max_batch) EXPECT_GT(e.split_chunks, 0) << "chunks must be split";
      if (max_batch != 1 && max_batch != 97) break;  // all block sizes on two batch sizes suffice
    }
  }
  SCOPED_TRACE("ThreadTeam reduction");
  expect_bit_identical(emulate(run, 33, 4, 0, bins), cpu);
  // Chunk groups (batches cut at every 16th and every 7th chunk): the same bits.
  for (std::int64_t group_chunks : {16, 7}) {
    SCOPED_TRACE("groups of " + std::to_string(group_chunks) + " chunks");
    expect_bit_identical(emulate(run, 29, 3, 32, bins, group_chunks), cpu);
  }
}

}  // namespace

TEST(EnsembleReduction, EmulatedDeviceEqualsCpuBackendBitForBit12_6_2) {
  RunCase rc(make_model({12, 6, 2}, {"excited", "ground", "ground"}), 600, 20.0, 21);
  check_all_shapes(rc, 13);
}

TEST(EnsembleReduction, EmulatedDeviceEqualsCpuBackendProductStateShard) {
  // Several bundles (a mixture over j), a shard that starts at global index 1000, fewer
  // trajectories than chunks (empty chunks).
  RunCase rc(make_model({12, 6, 2}, {"product 6", "ground", "ground"}), 200, 15.0, 16, 1000);
  check_all_shapes(rc, 7);
}

TEST(EnsembleReduction, ThermalHistogramFallsBackExactly) {
  // Raising channels: jump counts are unbounded; with 3 bins most batches overflow and are
  // counted on the host, and the histogram is still the CPU backend's.
  RunCase rc(make_model({5, 3, 2}, {"coherent 1.1 0.7", "dicke 1", "coherent 2.0 -0.4"}, 0.2), 300,
             10.0, 11);
  TrajectoryRun run(rc.model, rc.settings, rc.grid);
  Tally cpu(run);
  run_trajectories_cpu(run, cpu, {});
  const Emulated few_bins = emulate(run, 50, 3, 32, 3);
  EXPECT_GT(few_bins.fallbacks, 0);
  EXPECT_GT(few_bins.reruns, 0) << "some recorded trajectory should exceed 64 jumps";
  expect_bit_identical(few_bins, cpu);
  const Emulated many_bins = emulate(run, 50, 3, 32, 200);
  EXPECT_EQ(many_bins.fallbacks, 0);
  expect_bit_identical(many_bins, cpu);
}

TEST(EnsembleReduction, WelfordWalkEqualsAggregatorAcrossSplits) {
  // Values of very different magnitude: any other summation order would change the last bits.
  std::vector<double> x(1000);
  PhiloxStream rng(5, 9);
  for (auto& v : x) v = (rng.uniform() - 0.3) * std::pow(10.0, 8.0 * rng.uniform() - 4.0);
  Aggregator ref(1);
  for (double v : x) ref.add(&v);
  for (long long split : {0LL, 1LL, 333LL, 999LL, 1000LL}) {
    double mean = 0.0, m2 = 0.0;
    welford::walk(x.data(), 1, 0, split, 0, mean, m2);
    welford::walk(x.data(), 1, split, 1000, split, mean, m2);  // continued from the carried state
    EXPECT_EQ(mean, ref.mean(0)) << split;
    EXPECT_EQ(m2, ref.m2()[0]) << split;
  }
}

// The Krylov kernel body (krylov_kernel.cu runs run_batch_trajectory with KrylovPropagator) on
// the CPU with SerialTeam, through the whole device pipeline, against the CPU backend's Krylov
// run of the same seed: bit-identical (the same arithmetic in the same order; lean bundles staged
// as the runner stages them). On a GPU the block reductions reorder sums: there the comparison is
// to 1e-12 (tests/backend/cuda/krylov_cuda_test.cpp).
TEST(EnsembleReduction, EmulatedDeviceEqualsCpuBackendBitForBitKrylov12_6_2) {
  RunCase rc(make_model({12, 6, 2}, {"excited", "ground", "ground"}), 400, 20.0, 21, 0, "krylov");
  TrajectoryRun run(rc.model, rc.settings, rc.grid);
  ASSERT_EQ(run.propagator, PropagatorKind::krylov);
  const DeviceBundle staged = stage_bundle(
      run.cache->get({0, 0, 0}), "", [](const auto* src, std::size_t, const std::string&) { return src; });
  EXPECT_TRUE(has_krylov_data(staged));
  EXPECT_FALSE(has_spectral_data(staged)) << "a Krylov bundle stages nothing dense per sector";
  EXPECT_FALSE(has_adaptive_data(staged));
  EXPECT_EQ(staged.view.lower_amp, nullptr) << "lean bundle: amplitudes computed from k";
  Tally cpu(run);
  run_trajectories_cpu(run, cpu, {});
  for (std::int64_t max_batch : {run.total, std::int64_t(37), std::int64_t(1)}) {
    SCOPED_TRACE("max_batch " + std::to_string(max_batch));
    expect_bit_identical(emulate(run, max_batch, 1 + static_cast<int>(max_batch % 5), 32, 13), cpu);
  }
}

TEST(EnsembleReduction, EmulatedDeviceEqualsCpuBackendBitForBitKrylovThermalProduct) {
  // Several (lean) bundles, complex initial states, raising channels (histogram fallback, reruns
  // of long jump records), a shard starting at 500.
  RunCase rc(make_model({5, 3, 2}, {"coherent 1.1 0.7", "product 2", "coherent 2.0 -0.4"}, 0.2),
             200, 10.0, 11, 500, "krylov");
  TrajectoryRun run(rc.model, rc.settings, rc.grid);
  ASSERT_EQ(run.propagator, PropagatorKind::krylov);
  ASSERT_GT(drawable_choices(run.weights, run.weight_begin).size(), 1u) << "several bundles";
  Tally cpu(run);
  run_trajectories_cpu(run, cpu, {});
  const Emulated e = emulate(run, 45, 3, 7, 3);
  EXPECT_GT(e.fallbacks, 0);
  expect_bit_identical(e, cpu);
}
