// Trajectories with local processes (docs/local.md, "Trajectories"): block-hopping trajectories
// against analytic limits (independent spins; the dephasing of a two-spin Dicke state into the
// singlet block), within 4 standard errors at every output time (fixed seeds; the tolerance is the
// SE, never tuned), and the contracts: the rank of a state inside its sector, all-zero local rates
// bit-identical to no [[local]] table, results independent of the thread count, refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <variant>

#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/checkpoint.hpp"
#include "qtraj/trajectory/local_jump.hpp"
#include "qtraj/trajectory/merge.hpp"
#include "qtraj/trajectory/krylov_propagator.hpp"
#include "qtraj/trajectory/local_trajectory.hpp"
#include "qtraj/trajectory/system.hpp"
#include "qtraj/trajectory/team.hpp"
#include "scratch_dir.hpp"
#include "trajectory/checkpoint_file.hpp"
#include "trajectory/run.hpp"
#include "trajectory/sector_window.hpp"

namespace qtraj {
namespace {

const Dataset* find_dataset(const Result& r, const std::string& path) {
  for (const auto& d : r.extra)
    if (d.path == path) return &d;
  return nullptr;
}
const std::vector<double>& doubles(const Dataset* d) {
  return std::get<std::vector<double>>(d->values);
}

/// A run file: `body` holds [system] and any [[reservoir]]/[[local]] tables; grid 0..t_end.
RunConfig config(const std::string& body, double t_end, int points, long long trajectories,
                 const std::string& propagator, int threads = 2) {
  return parse_run_config(body + "[time]\nend = " + std::to_string(t_end) +
                          "\npoints = " + std::to_string(points) +
                          "\n[solver]\nkind = \"trajectories\"\ntrajectories = " +
                          std::to_string(trajectories) + "\nseed = 7\npropagator = \"" +
                          propagator + "\"\nthreads = " + std::to_string(threads) +
                          "\nrtol = 1e-8\natol = 1e-10\n");
}

/// |value(k) - expected(t_k)| <= 4 SE (+1e-9 where SE = 0, e.g. t = 0).
template <class F>
void expect_4_sigma(const Result& r, const std::vector<double>& mean,
                    const std::vector<double>& err, int stride, int col, const F& expected,
                    const char* what) {
  for (std::size_t k = 0; k < r.time.size(); ++k) {
    const double v = mean[k * stride + col], se = err[k * stride + col];
    const double e = expected(r.time[k]);
    EXPECT_LE(std::abs(v - e), 4 * se + 1e-9)
        << what << " at t = " << r.time[k] << ": " << v << " +- " << se << ", expected " << e;
  }
}

}  // namespace

// The rank a local jump uses to address its target block (sector_rank over the completions
// table) is DickeSpace's order: every state of every sector, uneven spins included.
TEST(LocalTrajectory, SectorRankIsTheDickeSpaceOrder) {
  Model model;
  model.spins = {3, 2, 4};
  for (long long n : model.spins) model.initial.push_back(InitialState::parse("ground", n, "t"));
  const auto channels = collapse_channels(model);
  const std::vector<double> rates(9, 0.5);
  std::vector<DomainComponent> comps(3);
  std::vector<const DomainComponent*> chosen;
  for (int i = 0; i < 3; ++i) {
    comps[i].two_j = static_cast<int>(model.spins[i]) - (i == 1 ? 2 : 0);  // j = 3/2, 0, 2
    comps[i].amplitudes.assign(comps[i].two_j + 1, 0.0);
    comps[i].amplitudes[0] = 1.0;
    chosen.push_back(&comps[i]);
  }
  const trajectory::TrajectorySystem sys(model, channels, chosen,
                                         trajectory::PropagatorKind::krylov, 1, {}, &rates);
  const trajectory::SystemView& v = sys.view();
  int checked = 0;
  for (int n = 0; n <= v.max_excitation; ++n)
    for (std::int64_t s = v.sector_begin[n]; s < v.sector_begin[n + 1]; ++s, ++checked)
      EXPECT_EQ(trajectory::sector_rank(v, n, [&](int i) { return v.k[s * 3 + i]; }),
                s - v.sector_begin[n]);
  EXPECT_EQ(checked, 4 * 1 * 5);
  // Out of range: k_2 = 1 with j_2 = 0.
  EXPECT_EQ(trajectory::sector_rank(v, 1, [](int i) { return i == 1 ? 1 : 0; }), -1);
}

// A (block, sector) window (the Krylov trajectories' view of a block they hop into) holds the
// whole block's lean bundle around its sector: the sector offsets, the completions, and k, lower
// and raise of sectors lo .. hi (at least n - 1 .. n + 1), indexed from the window's first state;
// an entry that points outside the window is -1. Entered in every sector of several blocks, up
// and down (reused while it covers the sector, rebuilt when not), one window.
TEST(LocalTrajectory, SectorWindowIsTheWholeBlockAroundItsSector) {
  Model model;
  model.spins = {3, 2, 4};
  for (long long n : model.spins) model.initial.push_back(InitialState::parse("ground", n, "t"));
  const auto channels = collapse_channels(model);
  const std::vector<double> rates(9, 0.5);
  std::unique_ptr<trajectory::SectorWindow> window;
  int checked = 0;
  for (const std::vector<int>& two_j :
       {std::vector<int>{3, 2, 4}, std::vector<int>{1, 0, 4}, std::vector<int>{3, 2, 2}}) {
    std::vector<DomainComponent> comps(3);
    std::vector<const DomainComponent*> chosen;
    for (int i = 0; i < 3; ++i) {
      comps[i].two_j = two_j[i];
      comps[i].amplitudes.assign(two_j[i] + 1, 0.0);
      comps[i].amplitudes[0] = 1.0;
      chosen.push_back(&comps[i]);
    }
    const trajectory::TrajectorySystem sys(model, channels, chosen,
                                           trajectory::PropagatorKind::krylov, 1, {}, &rates);
    const trajectory::SystemView& full = sys.view();
    if (!window) window = std::make_unique<trajectory::SectorWindow>(full);
    std::vector<int> order;
    for (int n = 0; n <= full.max_excitation; ++n) order.push_back(n);
    for (int n = full.max_excitation; n >= 0; --n) order.push_back(n);
    for (int n : order) {
      SCOPED_TRACE(::testing::Message() << "block " << two_j[0] << two_j[1] << two_j[2]
                                        << ", sector " << n);
      const trajectory::SystemView& v = window->enter(two_j.data(), n);
      EXPECT_EQ(window->sector(), n);
      ASSERT_EQ(v.max_excitation, full.max_excitation);
      for (int i = 0; i < 3; ++i) EXPECT_EQ(v.two_j[i], two_j[i]);
      for (int q = 0; q <= full.max_excitation; ++q) EXPECT_EQ(v.sector_dim(q), full.sector_dim(q));
      for (int r = 0; r < 4 * (full.max_excitation + 1); ++r)
        EXPECT_EQ(v.completions[r], full.completions[r]);
      const int lo = window->first_sector(), hi = window->last_sector();
      EXPECT_LE(lo, std::max(0, n - 1));
      EXPECT_GE(hi, std::min(full.max_excitation, n + 1));
      EXPECT_TRUE(window->covers(n));
      const std::int64_t first = full.sector_begin[lo], last = full.sector_begin[hi + 1];
      EXPECT_EQ(v.sector_begin[lo], 0);
      auto expected = [&](int g) { return g < first || g >= last ? -1 : g - first; };
      for (std::int64_t s = first; s < last; ++s)
        for (int i = 0; i < 3; ++i, ++checked) {
          const std::int64_t a = (s - first) * 3 + i;
          EXPECT_EQ(v.k[a], full.k[s * 3 + i]);
          EXPECT_EQ(v.lower[a], expected(full.lower[s * 3 + i]));
          EXPECT_EQ(v.raise[a], expected(full.raise[s * 3 + i]));
        }
      EXPECT_EQ(v.obs_diag, nullptr);  // lean: computed from k
    }
  }
  EXPECT_EQ(window->block_builds(), 3);
  EXPECT_GT(window->sector_builds(), 3 * 2);  // the way back up rebuilds
  EXPECT_GT(checked, 3 * 60);
}

// Krylov trajectories that hop through (block, sector) windows give the bits of the same
// trajectories through whole-block bundles (the block cache): every aggregated value, the
// histogram and the jump records, with collective channels and every local process.
TEST(LocalTrajectory, WindowsGiveTheBitsOfWholeBlockBundles) {
  RunConfig c = config(
      "[system]\ndomains = [5, 4, 3]\ninitial = [\"excited\", \"product 2\", \"ground\"]\n"
      "[[local]]\nemission = 0.1\ndephasing = 0.4\n[[local]]\ndomains = [2]\npumping = 0.05\n",
      6.0, 7, 300, "krylov");
  c.solver.record_jumps = 30;
  auto run_with = [&](bool windows) {
    auto run = std::make_unique<backend::TrajectoryRun>(c.model, c.solver, c.time);
    run->local_windows = windows;
    auto tally = std::make_unique<backend::Tally>(*run);
    backend::run_trajectories_cpu(*run, *tally, {});
    EXPECT_TRUE(tally->complete());
    return std::make_pair(std::move(run), std::move(tally));
  };
  const auto [run_w, windowed] = run_with(true);
  const auto [run_b, bundles] = run_with(false);
  EXPECT_GT(run_w->blocks->blocks(), 3);  // the trajectories did hop
  EXPECT_EQ(run_w->blocks->blocks(), run_b->blocks->blocks());
  EXPECT_EQ(windowed->all.means(), bundles->all.means());
  EXPECT_EQ(windowed->all.m2(), bundles->all.m2());
  EXPECT_EQ(windowed->histogram, bundles->histogram);
  EXPECT_EQ(windowed->rec_time, bundles->rec_time);
  EXPECT_EQ(windowed->rec_channel, bundles->rec_channel);
}

// A stop request ends a local trajectory within 1024 jumps (run_trajectory's rule): one spin
// under emission and pumping (rates 1) jumps once per unit time on average, ~2e4 jumps to t = 2e4.
TEST(LocalTrajectory, AStopRequestEndsATrajectoryWithin1024Jumps) {
  using namespace trajectory;
  Model model;
  model.spins = {1};
  model.initial.push_back(InitialState::parse("excited", 1, "t"));
  const auto channels = collapse_channels(model);
  const std::vector<double> rates{1.0, 1.0, 0.0};
  DomainComponent up;
  up.two_j = 1;
  up.amplitudes = {0.0, 1.0};
  const TrajectorySystem sys(model, channels, {&up}, PropagatorKind::krylov, 1, {}, &rates);
  const int weights = static_cast<int>(channels.size()) + kLocalChannelsPerDomain;
  std::vector<double> work(workspace_doubles<KrylovPropagator>(sys.view().max_sector_dim, weights));
  const TrajectoryWorkspace ws =
      carve_workspace<KrylovPropagator>(work.data(), sys.view().max_sector_dim, weights);
  const std::vector<double> times{0.0, 2e4};
  std::vector<double> obs(2 * 5);
  std::vector<int> counts(channels.size() + 1), local_counts(kLocalChannelsPerDomain);
  auto hop = [](const SystemView& from, int, int dj, int) -> const SystemView* {
    EXPECT_EQ(dj, 0);  // j = 1/2 is the only block
    return &from;
  };
  auto run = [&](bool stop_now) {
    std::atomic<bool> stop{stop_now};
    TrajectoryOutput out;
    out.times = times.data();
    out.num_times = 2;
    out.obs = obs.data();
    out.channel_counts = counts.data();
    out.stop = &stop;
    out.row_stride = 5;
    LocalTrajectoryOutput local;
    local.spin_column = 2;
    local.quanta_column = 3;
    local.local_counts = local_counts.data();
    const int n = sys.max_sector();
    const TrajectoryStart start{n, sys.start_re(n), sys.start_im(n), false};
    PhiloxStream rng(7, 0);
    KrylovPropagator prop(1e-8, 1e-10);
    SerialTeam team;
    return run_local_trajectory(team, sys.view(), prop, rng, start, ws, out, local, hop);
  };
  EXPECT_GT(run(false), 10000);  // unstopped: to the end
  EXPECT_EQ(run(true), kTrajectoryIncomplete);
  int jumps = 0;
  for (int q : local_counts) jumps += q;
  EXPECT_EQ(jumps, 1024);
}

// Independent spins (one domain, no reservoir): local emission g_e and dephasing g_phi from the
// excited state. Every spin decays on its own, <n> = N e^{-g_e t}; no spin ever holds a coherence,
// so <J^+J^-> = <n> although the state leaves the top block (where j(j+1) - m^2 + m != n); each
// emission lowers n by one, so the emitted quanta are N - n in every trajectory.
TEST(LocalTrajectory, IndependentEmissionAndDephasing) {
  const double g_e = 0.3, n_spins = 4;  // and g_phi = 0.5, which <n> does not see
  for (const char* prop : {"krylov", "spectral", "adaptive"}) {
    SCOPED_TRACE(prop);
    const Result r = solve_trajectories(config(
        "[system]\ndomains = [4]\ninitial = [\"excited\"]\n[[local]]\nemission = 0.3\n"
        "dephasing = 0.5\n",
        4.0, 9, 3000, prop));
    const auto n_of = [&](double t) { return n_spins * std::exp(-g_e * t); };
    expect_4_sigma(r, r.excitations_mean.data, r.excitations_stderr.data, 1, 0, n_of, "<n>");
    expect_4_sigma(r, doubles(find_dataset(r, "/jplus_jminus/mean")),
                   doubles(find_dataset(r, "/jplus_jminus/stderr")), 1, 0, n_of, "<J+J->");
    const auto& quanta = doubles(find_dataset(r, "/local_quanta/mean"));
    const auto& spin = doubles(find_dataset(r, "/total_spin/domain_1"));
    ASSERT_EQ(find_dataset(r, "/total_spin/domain_1")->shape,
              (std::vector<std::uint64_t>{9, 3}));
    for (std::size_t k = 0; k < r.time.size(); ++k) {
      EXPECT_NEAR(quanta[2 * k], n_spins - r.excitations_mean(k, 0), 1e-12);
      EXPECT_EQ(quanta[2 * k + 1], 0.0);  // no pumping
      EXPECT_NEAR(spin[3 * k] + spin[3 * k + 1] + spin[3 * k + 2], 1.0, 1e-12);
    }
    EXPECT_EQ(spin[2], 1.0);  // t = 0: the top block j = 2
    EXPECT_LT(spin[3 * 8 + 2], 0.9);  // dephasing has left it by t = 4
  }
}

// Emission and pumping from the ground state: <n> = N g_p / (g_e + g_p) (1 - e^{-(g_e + g_p) t});
// the absorbed minus emitted quanta are n in every trajectory.
TEST(LocalTrajectory, IndependentPumpingAndEmission) {
  const double g_e = 0.2, g_p = 0.4, n_spins = 3;
  const Result r = solve_trajectories(config(
      "[system]\ndomains = [3]\ninitial = [\"ground\"]\n[[local]]\nemission = 0.2\n"
      "pumping = 0.4\n",
      5.0, 11, 3000, "krylov"));
  expect_4_sigma(r, r.excitations_mean.data, r.excitations_stderr.data, 1, 0,
                 [&](double t) {
                   return n_spins * g_p / (g_e + g_p) * (1 - std::exp(-(g_e + g_p) * t));
                 },
                 "<n>");
  const auto& quanta = doubles(find_dataset(r, "/local_quanta/mean"));
  for (std::size_t k = 0; k < r.time.size(); ++k)
    EXPECT_NEAR(quanta[2 * k + 1] - quanta[2 * k], r.excitations_mean(k, 0), 1e-12);
}

// Dephasing moves the two-spin Dicke state |j = 1, m = 0> into the singlet: the coherence between
// |10> and |01> decays as e^{-g_phi t} (each spin's (g_phi / 4) D[s^z] contributes g_phi / 2),
// so P(j = 1) = (1 + e^{-g_phi t}) / 2 and <J^+J^-> = 2 P(j = 1). Block hopping in both directions.
TEST(LocalTrajectory, DephasingOfADickeStateIntoTheSinglet) {
  const double g = 0.8;
  const Result r = solve_trajectories(config(
      "[system]\ndomains = [2]\ninitial = [\"dicke 1\"]\n[[local]]\ndephasing = 0.8\n", 3.0, 7,
      4000, "krylov"));
  const auto p1 = [&](double t) { return 0.5 * (1 + std::exp(-g * t)); };
  expect_4_sigma(r, doubles(find_dataset(r, "/total_spin/domain_1")),
                 doubles(find_dataset(r, "/total_spin/stderr_domain_1")), 2, 1, p1, "P(j=1)");
  expect_4_sigma(r, doubles(find_dataset(r, "/jplus_jminus/mean")),
                 doubles(find_dataset(r, "/jplus_jminus/stderr")), 1, 0,
                 [&](double t) { return 2 * p1(t); }, "<J+J->");
  expect_4_sigma(r, r.excitations_mean.data, r.excitations_stderr.data, 1, 0,
                 [](double) { return 1.0; }, "<n>");
}

// Collective chain plus local processes on both domains: the three propagators agree within 4
// combined standard errors (they share every draw but not the arithmetic of the jump times).
TEST(LocalTrajectory, PropagatorsAgreeWithCollectiveChannels) {
  const std::string body =
      "[system]\ndomains = [3, 2]\ninitial = [\"excited\", \"ground\"]\n[[local]]\n"
      "emission = 0.2\ndephasing = 0.3\n[[local]]\ndomains = [2]\npumping = 0.1\n";
  const Result k = solve_trajectories(config(body, 4.0, 5, 2000, "krylov"));
  const Result s = solve_trajectories(config(body, 4.0, 5, 2000, "spectral"));
  for (std::size_t t = 0; t < k.time.size(); ++t)
    for (int i = 0; i < 2; ++i) {
      const double se = std::hypot(k.excitations_stderr(t, i), s.excitations_stderr(t, i));
      EXPECT_LE(std::abs(k.excitations_mean(t, i) - s.excitations_mean(t, i)), 4 * se + 1e-9);
    }
  EXPECT_EQ(std::get<std::string>(k.attributes.at("propagator")), "krylov");
}

// All local rates zero: the collective run, bit for bit (the same datasets, the same values).
TEST(LocalTrajectory, ZeroRatesAreBitIdenticalToNoLocalTable) {
  const std::string base = "[system]\ndomains = [3, 2]\ninitial = [\"excited\", \"ground\"]\n";
  const Result plain = solve_trajectories(config(base, 3.0, 4, 200, "krylov"));
  const Result zero = solve_trajectories(
      config(base + "[[local]]\nemission = 0.0\ndephasing = 0.0\n", 3.0, 4, 200, "krylov"));
  EXPECT_EQ(plain.excitations_mean.data, zero.excitations_mean.data);
  EXPECT_EQ(plain.excitations_stderr.data, zero.excitations_stderr.data);
  ASSERT_EQ(plain.extra.size(), zero.extra.size());
  for (std::size_t d = 0; d < plain.extra.size(); ++d) {
    EXPECT_EQ(plain.extra[d].path, zero.extra[d].path);
    EXPECT_TRUE(plain.extra[d].values == zero.extra[d].values) << plain.extra[d].path;
  }
  EXPECT_EQ(find_dataset(zero, "/local_quanta/mean"), nullptr);
}

// Trajectory t draws from (seed, t) alone and the block bundles depend on their j vector only:
// 1 and 3 threads give the same bits, jump records (/jumps/local) included.
TEST(LocalTrajectory, ThreadCountIndependent) {
  const std::string body =
      "[system]\ndomains = [4, 2]\ninitial = [\"product 2\", \"excited\"]\n[[local]]\n"
      "emission = 0.3\ndephasing = 0.4\npumping = 0.1\n";
  RunConfig one = config(body, 3.0, 4, 300, "krylov", 1);
  one.solver.record_jumps = 5;
  RunConfig three = one;
  three.solver.threads = 3;
  const Result a = solve_trajectories(one), b = solve_trajectories(three);
  EXPECT_EQ(a.excitations_mean.data, b.excitations_mean.data);
  ASSERT_EQ(a.extra.size(), b.extra.size());
  for (std::size_t d = 0; d < a.extra.size(); ++d)
    EXPECT_TRUE(a.extra[d].values == b.extra[d].values) << a.extra[d].path;
  const Dataset* local = find_dataset(a, "/jumps/local");
  const Dataset* channel = find_dataset(a, "/jumps/channel");
  ASSERT_TRUE(local && channel);
  const auto& rows = std::get<std::vector<std::int64_t>>(local->values);
  const auto& ch = std::get<std::vector<std::int64_t>>(channel->values);
  ASSERT_EQ(rows.size(), 4 * ch.size());
  int local_jumps = 0;
  for (std::size_t j = 0; j < ch.size(); ++j) {
    if (ch[j] >= 0) {
      EXPECT_EQ(rows[4 * j], 0);
      continue;
    }
    ++local_jumps;
    EXPECT_GE(rows[4 * j], 1);
    EXPECT_LE(rows[4 * j], 2);
    EXPECT_LE(std::abs(rows[4 * j + 3] - rows[4 * j + 2]), 2);
  }
  EXPECT_GT(local_jumps, 0);
}

// Shards merge to the statistics of one run, the block and quanta columns included (they live in
// the aggregator), and so do the local jumps' records (/jumps/local).
TEST(LocalTrajectory, ShardsMergeWithTheLocalColumns) {
  qtraj::testing::ScratchDir scratch{"qtraj_local_merge_test"};
  const std::string body =
      "[system]\ndomains = [3, 2]\ninitial = [\"excited\", \"ground\"]\n[[local]]\n"
      "emission = 0.2\ndephasing = 0.5\n";
  auto shard = [&](long long first, long long count, const std::string& name, int record) {
    RunConfig c = config(body, 3.0, 4, count, "krylov");
    c.solver.first_trajectory = first;
    c.solver.record_jumps = record;
    const std::string path = (scratch.path / name).string();
    write_result(path, solve_trajectories(c), c);
    return path;
  };
  const std::string whole = shard(0, 600, "whole.h5", 0);
  const MergedShards merged =
      merge_trajectory_shards({shard(250, 350, "b.h5", 0), shard(0, 250, "a.h5", 0)});
  for (const char* path : {"/total_spin/domain_1", "/total_spin/stderr_domain_2",
                           "/local_quanta/mean", "/local_quanta/stderr"}) {
    const Dataset* m = find_dataset(merged.result, path);
    Dataset stored;
    ASSERT_TRUE(m && read_dataset(whole, path, &stored)) << path;
    const Dataset* w = &stored;
    EXPECT_EQ(m->shape, w->shape) << path;
    for (std::size_t q = 0; q < doubles(m).size(); ++q)
      EXPECT_NEAR(doubles(m)[q], doubles(w)[q], 1e-13) << path;
  }
  const std::string with_records = shard(0, 20, "e.h5", 20);
  const MergedShards records =
      merge_trajectory_shards({shard(0, 10, "c.h5", 10), shard(10, 10, "d.h5", 10)});
  for (const char* path : {"/jumps/local", "/jumps/channel", "/jumps/reservoir"}) {
    Dataset stored;
    ASSERT_TRUE(read_dataset(with_records, path, &stored)) << path;
    const Dataset* m = find_dataset(records.result, path);
    ASSERT_NE(m, nullptr) << path;
    EXPECT_TRUE(m->values == stored.values) << path;
  }
}

// A checkpoint of some finished chunks, resumed, gives the uninterrupted run bit for bit: the
// block and quanta columns ride in the aggregator rows, local jump records in their codes.
TEST(LocalTrajectory, ResumeIsBitIdentical) {
  qtraj::testing::ScratchDir scratch{"qtraj_local_ckpt_test"};
  RunConfig c = config(
      "[system]\ndomains = [3, 2]\ninitial = [\"excited\", \"ground\"]\n[[local]]\n"
      "emission = 0.2\ndephasing = 0.5\n",
      3.0, 4, 700, "krylov");
  c.solver.record_jumps = 40;
  c.output.path = (scratch.path / "out.h5").string();
  c.output.checkpoint_seconds = 0;
  const Result whole = solve_trajectories(c);
  {
    backend::TrajectoryRun run(c.model, c.solver, c.time);
    backend::Tally tally(run);
    run.chunks = {0, 1, 2, 3, 17, 200};
    backend::run_trajectories_cpu(run, tally, {});
    backend::write_checkpoint(checkpoint_path(c.output.path, 0), run, c, tally.snapshot());
  }
  c.output.resume = true;
  const Result resumed = solve_trajectories(c);
  EXPECT_EQ(std::get<std::int64_t>(resumed.attributes.at("resumed_chunks")), 6);
  EXPECT_EQ(resumed.excitations_mean.data, whole.excitations_mean.data);
  ASSERT_EQ(resumed.extra.size(), whole.extra.size());
  for (std::size_t d = 0; d < whole.extra.size(); ++d) {
    EXPECT_EQ(resumed.extra[d].path, whole.extra[d].path);
    EXPECT_TRUE(resumed.extra[d].values == whole.extra[d].values) << whole.extra[d].path;
  }
  EXPECT_NE(find_dataset(resumed, "/jumps/local"), nullptr);
}

// What does not run local processes yet refuses in one line naming the field.
TEST(LocalTrajectory, RefusalsName) {
  const std::string body =
      "[system]\ndomains = [2]\ninitial = [\"excited\"]\n[[local]]\nemission = 0.3\n";
  RunConfig c = config(body, 1.0, 2, 10, "krylov");
  c.solver.batch_sectors = "on";
  c.solver.propagator = "spectral";
  try {
    solve_trajectories(c);
    FAIL() << "batch_sectors = on with local processes ran";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("solver.batch_sectors"), std::string::npos) << e.what();
  }
  RunConfig automatic = config(body, 1.0, 2, 10, "auto");
  EXPECT_EQ(std::get<std::string>(solve_trajectories(automatic).attributes.at("propagator")),
            "krylov");
}

}  // namespace qtraj
