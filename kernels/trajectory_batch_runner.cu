// qtraj::cuda::TrajectoryBatchRunner (include/qtraj/backend/cuda_trajectory_runner.hpp): uploads the
// bundles once, launches trajectory_kernel.cu per batch, copies the per-trajectory outputs back.
#include <cuda_runtime.h>

#include "batch_runner_impl.cuh"
#include "sector_batch_kernels.cuh"
#include "qtraj/trajectory/propagators.hpp"
#include "qtraj/trajectory/trajectory.hpp"

namespace qtraj::cuda {

int TrajectoryBatchRunner::block_size_for(int max_sector_dim) {
  const int warps = (std::max(max_sector_dim, 1) + 31) / 32;
  return std::min(256, std::max(32, warps * 32));
}

TrajectoryBatchRunner::TrajectoryBatchRunner(const TrajectorySystem& system, LaunchSettings launch)
    : impl_(std::make_unique<Impl>()) {
  impl_->launch = launch;
  const int m = system.view().num_domains;
  std::vector<double> weights(m, 1.0);
  std::vector<int> weight_begin(m + 1);
  for (int i = 0; i <= m; ++i) weight_begin[i] = i;
  impl_->build(weights, weight_begin, {BundleEntry{std::vector<int>(m, 0), &system}});
}

TrajectoryBatchRunner::TrajectoryBatchRunner(const std::vector<double>& weights,
                                             const std::vector<int>& weight_begin,
                                             const std::vector<BundleEntry>& bundles,
                                             LaunchSettings launch)
    : impl_(std::make_unique<Impl>()) {
  impl_->launch = launch;
  impl_->build(weights, weight_begin, bundles);
}

TrajectoryBatchRunner::~TrajectoryBatchRunner() = default;
TrajectoryBatchRunner::TrajectoryBatchRunner(TrajectoryBatchRunner&&) noexcept = default;
TrajectoryBatchRunner& TrajectoryBatchRunner::operator=(TrajectoryBatchRunner&&) noexcept = default;

const LaunchInfo& TrajectoryBatchRunner::last_launch() const { return impl_->info; }

void TrajectoryBatchRunner::Impl::validate(const PropagatorSettings& propagator,
                                           const std::vector<double>& grid) const {
  const trajectory::PropagatorInfo p = trajectory::propagator_info(propagator.kind);
  const std::string name = p.name;
  if (grid.empty()) throw Error(std::string(kWho) + ": empty output grid");
  if (!(grid[0] >= 0.0) || !std::is_sorted(grid.begin(), grid.end()))
    throw Error(std::string(kWho) + ": the output grid must be ascending from times[0] >= 0");
  if (p.sparse_k && !adaptive_ok)
    throw Error(std::string(kWho) + ": " + name + " propagator asked for, but a bundle was built "
                                    "without the sparse K (TrajectorySystem(..., adaptive = true))");
  if (p.eigensystems && !spectral_ok)
    throw Error(std::string(kWho) + ": " + name + " propagator asked for, but a bundle was built "
                                    "without eigensystems (TrajectorySystem(..., spectral = true))");
  if (p.tolerances && !(propagator.rtol > 0 && propagator.atol > 0))
    throw Error(std::string(kWho) + ": rtol and atol must be > 0 for the " + name + " propagator");
  if (propagator.kind == trajectory::PropagatorKind::krylov &&
      !(propagator.max_basis >= 2 && propagator.max_basis <= trajectory::kKrylovMaxBasis))
    throw Error(std::string(kWho) + ": the Krylov propagator needs max_basis in 2.." +
                std::to_string(trajectory::kKrylovMaxBasis));
}

detail::KernelConfig TrajectoryBatchRunner::Impl::configure(trajectory::PropagatorKind kind,
                                                            std::int64_t count) {
  detail::KernelConfig cfg;
  cfg.kind = kind;
  const int c = num_channels;
  // Block size: one thread per sector component (strided loops cover the rest).
  cudaFuncAttributes attr{};
  QTRAJ_CUDA_CHECK(gpu_trajectory_kernel_attributes(kind, &attr));
  cfg.block = launch.block_size > 0 ? launch.block_size : block_size_for(max_dim);
  if (cfg.block > attr.maxThreadsPerBlock)
    throw DeviceError(std::string(kWho) + ": block size " + std::to_string(cfg.block) +
                      " exceeds the kernel's limit of " + std::to_string(attr.maxThreadsPerBlock) +
                      " threads (" + std::to_string(attr.numRegs) + " registers per thread)");

  // Workspace sized for the propagator (spectral 8 d + C, adaptive 26 d + C doubles): shared
  // memory if it fits the opt-in budget (minus static shared).
  // (Krylov ~88 d: shared only for small sectors, else a global slice.)
  cfg.ws_doubles = trajectory::with_propagator(kind, {}, [&](auto prototype) {
    return trajectory::workspace_doubles<decltype(prototype)>(max_dim, c);
  });
  const long long ws_bytes = cfg.ws_doubles * static_cast<long long>(sizeof(double));
  int optin = 0;
  QTRAJ_CUDA_CHECK(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, info.device));
  const bool fits = ws_bytes + static_cast<long long>(attr.sharedSizeBytes) <= optin;
  cfg.shared = fits;
  if (launch.placement == WorkspacePlacement::global) cfg.shared = false;
  if (launch.placement == WorkspacePlacement::shared && !fits)
    throw DeviceError(std::string(kWho) + ": workspace of " + std::to_string(ws_bytes) +
                      " bytes per block does not fit shared memory (opt-in limit " +
                      std::to_string(optin) + " bytes, " + std::to_string(attr.sharedSizeBytes) +
                      " static)");
  cfg.dyn_shared = cfg.shared ? static_cast<std::size_t>(ws_bytes) : 0;
  if (cfg.shared)
    QTRAJ_CUDA_CHECK(gpu_set_trajectory_shared_limit(kind, static_cast<int>(cfg.dyn_shared)));

  // Grid: as many blocks as fit on the device at once (grid-stride covers the rest).
  int sms = 0, per_sm = 0;
  QTRAJ_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, info.device));
  QTRAJ_CUDA_CHECK(gpu_trajectory_occupancy(kind, cfg.block, cfg.dyn_shared, &per_sm));
  if (per_sm < 1)
    throw DeviceError(std::string(kWho) + ": no block of " + std::to_string(cfg.block) +
                      " threads with " + std::to_string(cfg.dyn_shared) +
                      " bytes of dynamic shared memory fits on an SM");
  cfg.grid = static_cast<long long>(per_sm) * sms;
  if (launch.max_blocks > 0) cfg.grid = std::min<long long>(cfg.grid, launch.max_blocks);
  cfg.grid = std::max<long long>(1, std::min<long long>(cfg.grid, count));
  if (!cfg.shared) {
    // Global workspaces: at most a quarter of the free memory (fewer resident blocks, grid-stride
    // covers the rest), so a large sector never makes the scratch itself an out-of-memory error.
    std::size_t free_bytes = 0, total_bytes = 0;
    QTRAJ_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const long long fit = static_cast<long long>(free_bytes / 4) / std::max<long long>(ws_bytes, 1);
    if (fit < 1)
      throw DeviceError(std::string(kWho) + ": one block's workspace (" +
                        detail::format_bytes(double(ws_bytes)) + ") does not fit a quarter of the " +
                        detail::format_bytes(double(free_bytes)) + " free device memory");
    cfg.grid = std::min(cfg.grid, fit);
  }
  if (!cfg.shared)
    scratch.ensure(static_cast<std::size_t>(cfg.grid * ws_bytes),
                   "global workspaces (" + std::to_string(cfg.grid) + " blocks x " +
                       std::to_string(ws_bytes) + " bytes)");

  info.block_size = cfg.block;
  info.grid_size = static_cast<int>(cfg.grid);
  info.workspace_bytes = ws_bytes;
  info.shared_workspace = cfg.shared;
  info.max_shared_optin = optin;
  return cfg;
}

void TrajectoryBatchRunner::Impl::launch_trajectories(const detail::KernelConfig& cfg,
                                                      const PropagatorSettings& propagator,
                                                      TrajectoryBatchArgs args,
                                                      cudaStream_t stream) {
  const int grid = static_cast<int>(std::max<long long>(1, std::min<long long>(cfg.grid, args.count)));
  if (!cfg.shared) {
    args.d_scratch = scratch.as<double>();
    args.scratch_stride = cfg.ws_doubles;
  }
  QTRAJ_CUDA_CHECK(gpu_run_trajectories(cfg.kind, propagator.params(), args, grid, cfg.block,
                                        cfg.dyn_shared, stream));
}

void TrajectoryBatchRunner::run(std::int64_t first, std::int64_t count, std::uint64_t seed,
                                const PropagatorSettings& propagator,
                                const std::vector<double>& times, int jump_capacity,
                                std::int64_t record_end, BatchOutput& out) {
  Impl& s = *impl_;
  if (first < 0 || count < 0) throw Error(std::string(kWho) + ": negative trajectory range");
  if (jump_capacity < 0) throw Error(std::string(kWho) + ": negative jump capacity");
  s.validate(propagator, times);

  const int n_t = static_cast<int>(times.size());
  const int row = 2 * s.num_domains;
  const int c = s.num_channels;
  const std::size_t n = static_cast<std::size_t>(count);
  out.first = first;
  out.count = count;
  out.num_times = n_t;
  out.row = row;
  out.num_channels = c;
  out.jump_capacity = jump_capacity;
  out.obs.resize(n * n_t * row);
  out.jumps.resize(n);
  out.channel_counts.resize(n * c);
  out.jump_time.resize(n * jump_capacity);
  out.jump_channel.resize(n * jump_capacity);
  if (count == 0) return;

  QTRAJ_CUDA_CHECK(cudaSetDevice(s.info.device));
  const std::string batch = " (" + std::to_string(count) + " trajectories)";
  double* d_times = static_cast<double*>(s.times.ensure(n_t * sizeof(double), "the output grid"));
  QTRAJ_CUDA_CHECK(cudaMemcpy(d_times, times.data(), n_t * sizeof(double), cudaMemcpyHostToDevice));

  TrajectoryBatchArgs args = s.bundle_args();
  args.seed = seed;
  args.first = first;
  args.count = count;
  args.d_times = d_times;
  args.num_times = n_t;
  args.d_obs = static_cast<double*>(s.obs.ensure(
      n * n_t * row * sizeof(double),
      "per-trajectory observables" + batch + " x " + std::to_string(n_t) + " times x " +
          std::to_string(row) + " doubles"));
  args.d_jumps = static_cast<int*>(s.jumps.ensure(n * sizeof(int), "jump totals" + batch));
  args.d_channel_counts =
      static_cast<int*>(s.counts.ensure(n * c * sizeof(int), "per-channel jump counts" + batch));
  args.d_jump_time = static_cast<double*>(
      s.jump_time.ensure(n * jump_capacity * sizeof(double), "jump-time records" + batch));
  args.d_jump_channel = static_cast<int*>(
      s.jump_channel.ensure(n * jump_capacity * sizeof(int), "jump-channel records" + batch));
  args.jump_capacity = jump_capacity;
  args.record_end = record_end;

  const detail::KernelConfig cfg = s.configure(propagator.kind, count);

  QTRAJ_CUDA_CHECK(cudaEventRecord(s.start));
  if (s.launch.sector_batched && propagator.kind == PropagatorSettings::Kind::spectral) {
    if (!s.sector_driver) s.sector_driver = std::make_shared<SectorBatchDriver>();
    s.sector_driver->run(args, s.num_bundles, s.max_excitation + 1, 0);
  } else {
    s.launch_trajectories(cfg, propagator, args, 0);
  }
  QTRAJ_CUDA_CHECK(cudaEventRecord(s.stop));
  QTRAJ_CUDA_CHECK(cudaEventSynchronize(s.stop));  // surfaces asynchronous kernel faults
  float ms = 0.0f;
  QTRAJ_CUDA_CHECK(cudaEventElapsedTime(&ms, s.start, s.stop));
  s.info.kernel_ms = ms;

  QTRAJ_CUDA_CHECK(cudaMemcpy(out.jumps.data(), args.d_jumps, n * sizeof(int),
                              cudaMemcpyDeviceToHost));
  QTRAJ_CUDA_CHECK(cudaMemcpy(out.obs.data(), args.d_obs, out.obs.size() * sizeof(double),
                              cudaMemcpyDeviceToHost));
  if (c > 0)
    QTRAJ_CUDA_CHECK(cudaMemcpy(out.channel_counts.data(), args.d_channel_counts,
                                out.channel_counts.size() * sizeof(int), cudaMemcpyDeviceToHost));
  if (jump_capacity > 0) {
    QTRAJ_CUDA_CHECK(cudaMemcpy(out.jump_time.data(), args.d_jump_time,
                                out.jump_time.size() * sizeof(double), cudaMemcpyDeviceToHost));
    QTRAJ_CUDA_CHECK(cudaMemcpy(out.jump_channel.data(), args.d_jump_channel,
                                out.jump_channel.size() * sizeof(int), cudaMemcpyDeviceToHost));
  }
  for (std::size_t r = 0; r < n; ++r)
    if (out.jumps[r] == kMissingBundle)
      throw Error(std::string(kWho) + ": trajectory " + std::to_string(first + std::int64_t(r)) +
                  " drew an initial-component choice that has no bundle (pass every choice with "
                  "positive weight to TrajectoryBatchRunner)");
}

}  // namespace qtraj::cuda
