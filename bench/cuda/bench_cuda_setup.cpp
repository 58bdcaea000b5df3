// Set-up of a spectral bundle, host threads vs the device (cuSOLVER, docs/cuda.md section 3), side
// by side in one process: TrajectorySystem of (400,40,4) and (200,40,8) (first domain excited, the
// default chain at zero temperature: bench/trajectory_bench_config.hpp), built
//   host:   the per-sector eigendecompositions on --threads std::threads (0: all cores);
//   device: K_n built on the same threads, all sectors solved by device_eigensystems.
// Prints wall seconds of each (best of --repeat), the cuSOLVER calls, and the largest eigenvalue
// difference relative to max|lambda| (must be <= 1e-12). Target: device < 1 s.
//   build-cuda/qtraj_cuda_setup_bench [--threads 16] [--repeat 2]
// Exit status 1 if an eigenvalue differs by more than 1e-12 relative, 3 without a device/cuSOLVER.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../trajectory_bench_config.hpp"
#include "qtraj/backend/cuda_eigensystems.hpp"
#include "qtraj/backend/cuda_kernel_info.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/trajectory/adaptive_propagator.hpp"
#include "qtraj/trajectory/spectral_propagator.hpp"
#include "qtraj/error.hpp"
#include "qtraj/trajectory/system.hpp"

namespace {

int arg_int(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  return fallback;
}

/// Registers, spills and occupancy of both trajectory kernels at the launch the runner would pick
/// for `spins` (automatic block size, workspace per propagator in shared memory when it fits 227 KB).
void print_kernel_resources(const std::vector<long long>& spins) {
  const qtraj::RunConfig c = qtraj::bench::trajectory_config(spins, 1, 1);
  const auto channels = qtraj::collapse_channels(c.model);
  const qtraj::bench::FirstComponents components(c.model);
  const auto& chosen = components.chosen;
  const qtraj::trajectory::TrajectorySystem sys(c.model, channels, chosen, false, false, 1);
  const int d = sys.view().max_sector_dim, nc = sys.view().num_channels;
  const int block = qtraj::cuda::TrajectoryBatchRunner::block_size_for(d);
  const long long optin = 227 * 1024;
  for (bool adaptive : {false, true}) {
    long long ws = 8 * (adaptive ? qtraj::trajectory::workspace_doubles<qtraj::trajectory::AdaptivePropagator>(d, nc)
                                 : qtraj::trajectory::workspace_doubles<qtraj::trajectory::SpectralPropagator>(d, nc));
    if (ws > optin) ws = 0;  // global scratch
    for (const auto& r : qtraj::cuda::trajectory_kernel_resources(block, ws))
      if ((r.name == "adaptive") == adaptive)
        std::printf("(%lld,...) d_max %4d  %-9s regs %3d  local %5lld B  static shared %5lld B  "
                    "block %3d  workspace %6lld B  blocks/SM %2d  warp occupancy %5.1f%%\n",
                    spins[0], d, r.name.c_str(), r.registers, r.local_bytes, r.static_shared,
                    r.block_size, r.dynamic_shared, r.blocks_per_sm, 100.0 * r.warp_occupancy);
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = arg_int(argc, argv, "--threads", 0);
  if (threads <= 0) threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int repeat = std::max(1, arg_int(argc, argv, "--repeat", 2));
  try {
    std::printf("trajectory kernels (registers per thread, spills, occupancy at the automatic launch):\n");
    for (const std::vector<long long>& spins :
         {std::vector<long long>{12, 6, 2}, std::vector<long long>{40, 2}, std::vector<long long>{400, 40, 4}})
      print_kernel_resources(spins);
  } catch (const qtraj::Error& e) {
    std::printf("kernel resources: %s\n", e.what());
  }
  std::string why;
  if (!qtraj::cuda::device_eigensolver_available(&why)) {
    std::printf("device set-up unavailable: %s\n", why.c_str());
    return 3;
  }
  std::printf("device set-up: %s; host threads %d, best of %d\n", why.c_str(), threads, repeat);
  std::printf("%-12s %8s %8s %10s %10s %8s %8s %8s %12s\n", "system", "sectors", "max_d",
              "host_s", "device_s", "syevjB", "syevB", "syevd", "max_rel_dl");
  bool ok = true;
  for (const std::vector<long long>& spins :
       {std::vector<long long>{400, 40, 4}, std::vector<long long>{200, 40, 8}}) {
    const qtraj::RunConfig c = qtraj::bench::trajectory_config(spins, 1, threads);
    const auto channels = qtraj::collapse_channels(c.model);
    const qtraj::bench::FirstComponents components(c.model);
    const auto& chosen = components.chosen;
    double host_s = 1e300, dev_s = 1e300, max_rel = 0.0;
    qtraj::cuda::EigensystemsInfo info;
    int sectors = 0, max_d = 0;
    for (int r = 0; r < repeat; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      const qtraj::trajectory::TrajectorySystem host(c.model, channels, chosen, true, false, threads);
      host_s = std::min(host_s, seconds_since(t0));
      t0 = std::chrono::steady_clock::now();
      const qtraj::trajectory::TrajectorySystem dev(
          c.model, channels, chosen, true, false, threads,
          [&](const std::vector<qtraj::trajectory::SymmetricEigenTask>& t) {
            qtraj::cuda::device_eigensystems(t, &info);
          });
      dev_s = std::min(dev_s, seconds_since(t0));
      const auto &a = host.view(), &b = dev.view();
      sectors = a.spectral_max_sector + 1;
      for (int n = 0; n <= a.spectral_max_sector; ++n) {
        const int d = a.sector_dim(n);
        max_d = std::max(max_d, d);
        double top = 0.0;
        for (int s = 0; s < d; ++s) top = std::max(top, std::abs(a.lambda[a.sector_begin[n] + s]));
        for (int s = 0; s < d; ++s)
          max_rel = std::max(max_rel, std::abs(a.lambda[a.sector_begin[n] + s] -
                                               b.lambda[a.sector_begin[n] + s]) /
                                          std::max(top, 1e-300));
      }
    }
    std::string name = "(" + std::to_string(spins[0]) + "," + std::to_string(spins[1]) + "," +
                       std::to_string(spins[2]) + ")";
    std::printf("%-12s %8d %8d %10.3f %10.3f %8d %8d %8d %12.3e\n", name.c_str(), sectors, max_d,
                host_s, dev_s, info.syevj_batched_calls, info.syev_batched_calls, info.syevd_calls,
                max_rel);
    std::printf("   device_eigensystems alone (copies included): %.3f s of the device set-up\n",
                info.seconds);
    ok = ok && max_rel <= 1e-12;
  }
  if (!ok) std::printf("FAILED: an eigenvalue differs from the host's by more than 1e-12 relative\n");
  return ok ? 0 : 1;
}
