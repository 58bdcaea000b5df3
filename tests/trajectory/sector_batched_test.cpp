// The sector-batched spectral engine (sector_batched.hpp) against the per-trajectory path
// (run_trajectory with SpectralPropagator): the same trajectories BIT FOR BIT (jumps, jump times,
// channels, observables), whatever the batch a trajectory is in; and solve_trajectories gives the
// same result with solver.batch_sectors on and off, for any thread count.
#include <gtest/gtest.h>

#include <ostream>
#include <random>

#include "qtraj/error.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/sector_batched.hpp"
#include "trajectory/run.hpp"
#include "trajectory/solver_test_helpers.hpp"
#include "trajectory/test_helpers.hpp"
#include "tsan_test.hpp"

namespace qtraj::trajectory {
namespace {

using testing::Fixture;
using testing::make_model;
using testing::SharedRun;

TEST(SectorBatched, OrderedGemmEqualsTheMatVecLoopBitForBit) {
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  for (int d : {1, 2, 5, 37}) {
    for (int k : {1, 3, 8, 13, 21}) {
      std::vector<double> a(d * d), x(d * k), y(d * k);
      for (auto& v : a) v = dist(gen);
      for (auto& v : x) v = dist(gen);
      ordered_gemm(a.data(), d, x.data(), k, y.data());
      for (int j = 0; j < k; ++j)
        for (int r = 0; r < d; ++r) {
          double s = 0.0;  // SpectralPropagator's loop: ascending b, one product at a time
          for (int b = 0; b < d; ++b) s += a[r * d + b] * x[b * k + j];
          ASSERT_EQ(y[r * k + j], s) << "d " << d << " k " << k << " row " << r << " col " << j;
        }
    }
  }
}

struct Case {
  const char* name;
  std::vector<long long> spins;
  std::vector<std::string> initial;
  double nbar;
  double t_end;
  bool complex_state = false;
  bool goes_dark = false;  // some trajectory's rows are copies of a dark row (stationary path)
};
// gtest prints the parameter in ctest's test names: its name, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

/// Trajectories 0..count-1 of fixture f through the engine, in batches of `batch` (the batches
/// run one after the other through the same engine).
std::vector<BatchedTrajectory> run_engine(const Fixture& f, std::uint64_t seed, int count,
                                          int batch, std::vector<double>& obs, int rows_per_step,
                                          std::int64_t& copied) {
  const auto& sys = f.system->view();
  const std::size_t row = f.times.size() * 2 * sys.num_domains;
  obs.assign(row * count, -99.0);
  std::vector<BatchedTrajectory> all(count);
  SectorBatchedEngine engine(f.times, rows_per_step);
  copied = 0;
  for (int t0 = 0; t0 < count; t0 += batch) {
    std::vector<BatchedTrajectory> b;
    for (int t = t0; t < std::min(count, t0 + batch); ++t) {
      BatchedTrajectory tr;
      tr.rng = PhiloxStream(seed, t);
      for (int i = 0; i < sys.num_domains; ++i) tr.rng.uniform();  // component draws
      const auto& p = f.system->sector_probability();
      tr.sector = draw_sector(tr.rng, p.data(), static_cast<int>(p.size()));
      tr.sys = &sys;
      tr.start_re = f.system->start_re(tr.sector);
      tr.start_im = f.system->start_im(tr.sector);
      tr.complex_state = f.system->complex_state();
      tr.record_jumps = true;
      tr.obs = obs.data() + row * t;
      b.push_back(tr);
    }
    engine.run(b);
    EXPECT_GT(engine.columns(), 0);
    copied += engine.copied_rows();
    for (std::size_t i = 0; i < b.size(); ++i) all[t0 + i] = b[i];
  }
  return all;
}

class SectorBatchedCases : public ::testing::TestWithParam<Case> {};

TEST_P(SectorBatchedCases, SameTrajectoriesAsRunTrajectoryInAnyBatch) {
  const Case& c = GetParam();
  std::vector<double> grid;
  for (int k = 0; k <= 20; ++k) grid.push_back(c.t_end * k / 20.0);
  Fixture f(make_model(c.spins, c.initial, c.nbar), grid, true, false);
  const std::uint64_t seed = 11;
  const int count = 24;
  const std::size_t row = grid.size() * 2 * f.system->view().num_domains;
  // The per-trajectory reference.
  std::vector<testing::OneTrajectory> ref;
  int total_jumps = 0;
  for (int t = 0; t < count; ++t) {
    SharedRun run(f, 4096);
    SerialTeam team;
    testing::run_one(team, f, run, seed, t, false);
    ASSERT_LE(run.result.jumps, 4096);
    total_jumps += run.result.jumps;
    ref.push_back(run.result);
  }
  EXPECT_GT(total_jumps, count);  // the cases jump
  EXPECT_EQ(f.system->complex_state(), c.complex_state);
  // Batches of 1 (no sharing), 5 (trajectories at different stages share products) and all; few
  // rows per step (a segment's output times spread over steps) and many.
  for (int batch : {1, 5, count}) {
    for (int rows_per_step : {1, 8}) {
      SCOPED_TRACE(::testing::Message() << c.name << " batch " << batch << " rows " << rows_per_step);
      std::vector<double> obs;
      std::int64_t copied = 0;
      const auto got = run_engine(f, seed, count, batch, obs, rows_per_step, copied);
      EXPECT_EQ(copied > 0, c.goes_dark) << copied;
      for (int t = 0; t < count; ++t) {
        ASSERT_EQ(got[t].jumps, ref[t].jumps) << "trajectory " << t;
        for (int j = 0; j < ref[t].jumps; ++j) {
          ASSERT_EQ(got[t].jump_channel[j], ref[t].jump_channel[j]) << t << " jump " << j;
          ASSERT_EQ(got[t].jump_time[j], ref[t].jump_time[j]) << t << " jump " << j;
        }
        EXPECT_EQ(got[t].channel_counts, ref[t].channel_counts) << t;
        const std::vector<double> mine(obs.begin() + row * t, obs.begin() + row * (t + 1));
        ASSERT_EQ(mine, ref[t].obs) << "trajectory " << t;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Systems, SectorBatchedCases,
    ::testing::Values(Case{"12_6_2", {12, 6, 2}, {"excited", "ground", "ground"}, 0.0, 12.0, false, true},
                      Case{"40_2", {40, 2}, {"excited", "ground"}, 0.0, 12.0, false, true},
                      Case{"thermal_6_4_3", {6, 4, 3}, {"dicke 3", "excited", "ground"}, 0.4, 8.0},
                      Case{"coherent_complex", {6, 3}, {"coherent 1.1 0.6", "ground"}, 0.0, 40.0, true, true},
                      Case{"dark_dicke", {4, 4}, {"dicke 2", "dicke 1"}, 0.0, 30.0, false, true}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// solve_trajectories: on vs off, bit-identical (means, standard errors, Welford state, histogram,
// jump records), over several bundles (a product state is a mixture over j) and thread counts.
QTRAJ_TSAN_TEST(SectorBatched, SolverResultIsBitIdenticalOnAndOff) {
  using trajectory_solver_testing::make_config;
  for (int which = 0; which < 2; ++which) {
    RunConfig c = which == 0
                      ? make_config({12, 6, 2}, {"excited", "ground", "ground"}, 12.0, 9, 600, "spectral")
                      : make_config({6, 4}, {"product 3", "ground"}, 10.0, 9, 400, "spectral", 0.2);
    c.solver.record_jumps = 9;
    c.solver.threads = 1;
    c.solver.batch_sectors = "off";
    const Result off = solve_trajectories(c);
    for (int threads : {1, 2}) {
      c.solver.threads = threads;
      c.solver.batch_sectors = "on";
      const Result on = solve_trajectories(c);
      SCOPED_TRACE(::testing::Message() << "case " << which << " threads " << threads);
      EXPECT_EQ(on.jz_over_n_mean.data, off.jz_over_n_mean.data);
      EXPECT_EQ(on.jz_over_n_stderr.data, off.jz_over_n_stderr.data);
      EXPECT_EQ(on.excitations_mean.data, off.excitations_mean.data);
      ASSERT_EQ(on.extra.size(), off.extra.size());
      for (std::size_t d = 0; d < on.extra.size(); ++d) {
        EXPECT_EQ(on.extra[d].path, off.extra[d].path);
        EXPECT_TRUE(on.extra[d].values == off.extra[d].values) << on.extra[d].path;
      }
    }
  }
}

// The backend on a share of the chunks (as an MPI rank or a resume runs them: not adjacent), in
// units and batches of several sizes: every chunk's Welford state, histogram and the jump records
// equal the per-trajectory backend's.
TEST(SectorBatched, ChunkStatesEqualThePerTrajectoryBackendOnAnyShare) {
  using trajectory_solver_testing::make_config;
  RunConfig c = make_config({12, 6, 2}, {"excited", "ground", "ground"}, 10.0, 6, 700, "spectral");
  c.solver.record_jumps = 40;
  auto run_share = [&](bool batched, std::int64_t batch, int threads) {
    c.solver.threads = threads;
    backend::TrajectoryRun run(c.model, c.solver, c.time);
    run.chunks.clear();
    for (std::int64_t k = 1; k < backend::kNumChunks; k += 2) run.chunks.push_back(k);
    run.batch_sectors = batched;
    run.sector_batch = batch;
    backend::Tally tally(run);
    backend::run_trajectories_cpu(run, tally, {});
    return tally.snapshot();
  };
  const backend::TallyState ref = run_share(false, 64, 1);
  ASSERT_EQ(ref.pending.size(), static_cast<std::size_t>(backend::kNumChunks / 2));
  for (std::int64_t batch : {1, 5, 64}) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(::testing::Message() << "batch " << batch << " threads " << threads);
      const backend::TallyState got = run_share(true, batch, threads);
      ASSERT_EQ(got.folded, ref.folded);
      ASSERT_EQ(got.pending.size(), ref.pending.size());
      for (const auto& [chunk, state] : ref.pending) {
        const auto it = got.pending.find(chunk);
        ASSERT_TRUE(it != got.pending.end()) << chunk;
        EXPECT_EQ(it->second.all.count(), state.all.count()) << chunk;
        EXPECT_EQ(it->second.all.means(), state.all.means()) << chunk;
        EXPECT_EQ(it->second.all.m2(), state.all.m2()) << chunk;
        EXPECT_EQ(it->second.histogram, state.histogram) << chunk;
      }
      EXPECT_EQ(got.rec_trajectory, ref.rec_trajectory);
      EXPECT_EQ(got.rec_time, ref.rec_time);
      EXPECT_EQ(got.rec_channel, ref.rec_channel);
    }
  }
  EXPECT_FALSE(ref.rec_time.empty());
}

TEST(SectorBatched, OnNeedsTheSpectralPropagator) {
  using trajectory_solver_testing::make_config;
  RunConfig c = make_config({3, 2}, {"excited", "ground"}, 2.0, 3, 10, "krylov");
  c.solver.batch_sectors = "on";
  EXPECT_THROW(solve_trajectories(c), InputError);
  c.solver.backend = "cuda";
  EXPECT_THROW(solve_trajectories(c), InputError);
  c.solver.propagator = "adaptive";
  c.solver.backend = "cpu";
  c.solver.batch_sectors = "auto";  // auto: off where it cannot run
  EXPECT_NO_THROW(solve_trajectories(c));
}

TEST(SectorBatched, AutoTurnsItOnWhereTheLargestSectorHas32StatesOrMore) {
  using trajectory_solver_testing::make_config;
  auto resolved = [](const RunConfig& c) {
    return backend::TrajectoryRun(c.model, c.solver, c.time).batch_sectors;
  };
  // (12,6,2): largest sector 21 states; (16,8,4): 45.
  EXPECT_FALSE(resolved(make_config({12, 6, 2}, {"excited", "ground", "ground"}, 1.0, 3, 10, "spectral")));
  RunConfig big = make_config({16, 8, 4}, {"excited", "ground", "ground"}, 1.0, 3, 10, "spectral");
  EXPECT_TRUE(resolved(big));
  big.solver.batch_sectors = "off";
  EXPECT_FALSE(resolved(big));
  big.solver.batch_sectors = "auto";
  big.solver.propagator = "krylov";
  EXPECT_FALSE(resolved(big));
  RunConfig small = make_config({12, 6, 2}, {"excited", "ground", "ground"}, 1.0, 3, 10, "spectral");
  small.solver.batch_sectors = "on";
  EXPECT_TRUE(resolved(small));
}

TEST(SectorBatched, CudaBackendRunsItOnlyWhenAskedFor) {
  // backend = "cuda": "on" selects the device engine (kernels/sector_batch_kernels.cuh), "auto"
  // keeps the per-block kernel (the device engine has no measured break-even yet: docs/cuda.md).
  using trajectory_solver_testing::make_config;
  auto resolved = [](const RunConfig& c) {
    return backend::TrajectoryRun(c.model, c.solver, c.time).batch_sectors;
  };
  RunConfig big = make_config({16, 8, 4}, {"excited", "ground", "ground"}, 1.0, 3, 10, "spectral");
  big.solver.backend = "cuda";
  EXPECT_FALSE(resolved(big));
  big.solver.batch_sectors = "on";
  EXPECT_TRUE(resolved(big));
  big.solver.batch_sectors = "off";
  EXPECT_FALSE(resolved(big));
}

TEST(SectorBatched, RunFileKeyIsParsedAndChecked) {
  const std::string base = "[system]\ndomains = [2]\ninitial = [\"excited\"]\n[solver]\n"
                           "kind = \"trajectories\"\n";
  EXPECT_EQ(parse_run_config(base).solver.batch_sectors, "auto");
  EXPECT_EQ(parse_run_config(base + "batch_sectors = \"on\"\n").solver.batch_sectors, "on");
  EXPECT_EQ(parse_run_config(base + "batch_sectors = \"off\"\n").solver.batch_sectors, "off");
  EXPECT_THROW(parse_run_config(base + "batch_sectors = \"yes\"\n"), InputError);
  EXPECT_THROW(parse_run_config(base + "batch_sectors = 1\n"), InputError);
}

}  // namespace
}  // namespace qtraj::trajectory
