// Sector-batched vs per-trajectory spectral trajectories on the CPU backend, side by side in one
// process (solver.batch_sectors, docs/design.md section 3.3). The set-up (per-sector eigensystems)
// is built once and excluded; each mode runs the same trajectories (seed 1) and the results are
// compared bit for bit (Welford means and M2 of every output time, jump histogram).
//   ./build/bench_sector_batched --system 400,40,4 --trajectories 256 --threads 1 [--batch 64]
// Reports CPU time (user + sys of the process, getrusage) and wall time per mode and their ratio.
// The bench configuration: bench/trajectory_bench_config.hpp (first domain excited, the default
// chain, t = 0..100 on 201 points). Exit status 1 if the two modes' results differ.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "qtraj/trajectory/system.hpp"
#include "trajectory/run.hpp"
#include "trajectory_bench_config.hpp"

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::vector<long long> parse_spins(const std::string& s) {
  std::vector<long long> v;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t comma = s.find(',', pos);
    v.push_back(std::stoll(s.substr(pos, comma - pos)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return v;
}

struct Outcome {
  double cpu = 0, wall = 0;
  std::vector<double> mean, m2;
  qtraj::backend::Histogram histogram;
};

Outcome run_mode(qtraj::backend::TrajectoryRun& run, bool batched) {
  run.batch_sectors = batched;
  qtraj::backend::Tally tally(run);
  const double c0 = cpu_seconds();
  const auto w0 = std::chrono::steady_clock::now();
  qtraj::backend::run_trajectories_cpu(run, tally, {});
  Outcome o;
  o.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  o.cpu = cpu_seconds() - c0;
  o.mean = tally.all.means();
  o.m2 = tally.all.m2();
  o.histogram = tally.histogram;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  std::string system = "400,40,4";
  long long trajectories = 256, batch = 64;
  int threads = 1;
  std::string mode = "both";  // both | on | off (one mode alone: for profilers)
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--system") system = argv[i + 1];
    else if (key == "--trajectories") trajectories = std::atoll(argv[i + 1]);
    else if (key == "--threads") threads = std::atoi(argv[i + 1]);
    else if (key == "--batch") batch = std::atoll(argv[i + 1]);
    else if (key == "--mode") mode = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const qtraj::RunConfig c =
      qtraj::bench::trajectory_config(parse_spins(system), trajectories, threads, "spectral");
  const auto s0 = std::chrono::steady_clock::now();
  qtraj::backend::TrajectoryRun run(c.model, c.solver, c.time);
  const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
  run.sector_batch = batch;
  std::vector<int> choice(c.model.num_domains(), 0);
  const int dmax = run.cache->get(choice).view().max_sector_dim;
  if (mode != "both") {
    const Outcome o = run_mode(run, mode == "on");
    std::printf("(%s) %s: cpu %.3f s, wall %.3f s\n", system.c_str(), mode.c_str(), o.cpu, o.wall);
    return 0;
  }
  const Outcome off = run_mode(run, false);
  const Outcome on = run_mode(run, true);
  const bool same = off.mean == on.mean && off.m2 == on.m2 && off.histogram == on.histogram;
  std::printf("system (%s), max sector dim %d, %lld trajectories, %d threads, batch %lld "
              "(set-up %.2f s wall, excluded)\n",
              system.c_str(), dmax, trajectories, threads, batch, setup);
  std::printf("%-16s %10s %10s %12s\n", "mode", "cpu [s]", "wall [s]", "traj/cpu-s");
  std::printf("%-16s %10.3f %10.3f %12.1f\n", "per-trajectory", off.cpu, off.wall,
              trajectories / off.cpu);
  std::printf("%-16s %10.3f %10.3f %12.1f\n", "sector-batched", on.cpu, on.wall,
              trajectories / on.cpu);
  std::printf("cpu-time ratio per-trajectory / batched: %.2fx; results bit-identical: %s\n",
              off.cpu / on.cpu, same ? "yes" : "NO");
  return same ? 0 : 1;
}
