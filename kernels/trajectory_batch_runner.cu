// qtraj::cuda::TrajectoryBatchRunner (include/qtraj/backend/cuda_trajectory_runner.hpp): uploads the
// bundles once, launches trajectory_kernel.cu per batch, copies the per-trajectory outputs back.
//
// Status: compiles with nvcc 13 for sm_90; not yet run on a GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "bundle_staging.cuh"
#include "cuda_check.cuh"
#include "trajectory_kernel.cuh"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/error.hpp"
#include "qtraj/trajectory/krylov_propagator.hpp"
#include "qtraj/trajectory/system.hpp"

namespace qtraj::cuda {

using trajectory::SystemView;
using trajectory::TrajectorySystem;
using trajectory::TrajectoryWorkspace;

namespace {

const char* const kWho = "cuda trajectory backend";

std::string format_bytes(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024.0 * 1024.0)
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  else if (bytes >= 1024.0 * 1024.0)
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024.0));
  else
    std::snprintf(buf, sizeof buf, "%.0f bytes", bytes);
  return buf;
}

/// cudaMalloc that throws DeviceError naming what and how much.
void* device_alloc(std::size_t bytes, const std::string& what) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();  // clear the (non-sticky) allocation error
    throw DeviceError(std::string(kWho) + ": cudaMalloc of " + format_bytes(double(bytes)) + " (" +
                      std::to_string(bytes) + " bytes) for " + what +
                      " failed: " + cudaGetErrorString(status));
  }
  return p;
}

/// A grow-only device buffer.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }
  void* ensure(std::size_t bytes, const std::string& what) {
    if (bytes > bytes_) {
      release();
      ptr_ = device_alloc(bytes, what);
      bytes_ = bytes;
    }
    return ptr_;
  }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void release() {
    if (ptr_) cudaFree(ptr_);  // no throw from a destructor
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

int checked_device(int requested) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    throw DeviceError(std::string(kWho) + ": no CUDA device (cudaGetDeviceCount: " +
                      (status != cudaSuccess ? cudaGetErrorString(status) : "0 devices") + ")");
  }
  if (requested >= count)
    throw DeviceError(std::string(kWho) + ": CUDA device " + std::to_string(requested) +
                      " requested, " + std::to_string(count) + " visible");
  int device = requested;
  if (device < 0) QTRAJ_CUDA_CHECK(cudaGetDevice(&device));
  QTRAJ_CUDA_CHECK(cudaSetDevice(device));
  return device;
}

}  // namespace

struct TrajectoryBatchRunner::Impl {
  LaunchSettings launch;
  LaunchInfo info;
  int num_domains = 0;
  int num_channels = 0;
  int max_dim = 1;
  bool spectral_ok = true;  // every bundle has eigen data
  bool adaptive_ok = true;  // every bundle has the CSR K
  std::vector<void*> allocations;  // bundle data, owned
  DeviceBundle* d_bundles = nullptr;
  int* d_bundle_of_choice = nullptr;
  double* d_weights = nullptr;
  int* d_weight_begin = nullptr;
  DeviceBuffer times, obs, jumps, counts, jump_time, jump_channel, scratch;
  cudaEvent_t start = nullptr, stop = nullptr;

  ~Impl() {
    for (void* p : allocations) cudaFree(p);
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
  }

  template <class T>
  T* upload(const T* host, std::size_t n, const std::string& what) {
    if (n == 0 || host == nullptr) return nullptr;
    void* p = device_alloc(n * sizeof(T), what);
    allocations.push_back(p);
    QTRAJ_CUDA_CHECK(cudaMemcpy(p, host, n * sizeof(T), cudaMemcpyHostToDevice));
    return static_cast<T*>(p);
  }

  /// Copies every flat array of the bundle to the device (bundle_staging.cuh).
  DeviceBundle upload_bundle(const TrajectorySystem& system, int index) {
    const DeviceBundle b = stage_bundle(
        system, "bundle " + std::to_string(index) + " ",
        [this](const auto* src, std::size_t n, const std::string& what) { return upload(src, n, what); });
    spectral_ok = spectral_ok && has_spectral_data(b);
    adaptive_ok = adaptive_ok && has_adaptive_data(b);
    return b;
  }

  void build(const std::vector<double>& weights, const std::vector<int>& weight_begin,
             const std::vector<BundleEntry>& bundles) {
    info.device = checked_device(launch.device);
    if (bundles.empty()) throw Error(std::string(kWho) + ": no bundle given");
    for (const auto& e : bundles)
      if (e.system == nullptr) throw Error(std::string(kWho) + ": null bundle");
    num_domains = bundles[0].system->view().num_domains;
    num_channels = bundles[0].system->view().num_channels;
    if (num_domains > kMaxKernelDomains)
      throw Error(std::string(kWho) + ": " + std::to_string(num_domains) +
                  " domains, the kernel supports at most " + std::to_string(kMaxKernelDomains));
    if (static_cast<int>(weight_begin.size()) != num_domains + 1 || weight_begin[0] != 0 ||
        static_cast<std::size_t>(weight_begin.back()) != weights.size())
      throw Error(std::string(kWho) + ": weight_begin must have M + 1 = " +
                  std::to_string(num_domains + 1) + " offsets into weights");
    // Choice table indexed by choice_key (trajectory_batch.cuh), as the kernel looks it up.
    long long table_size = 1;
    for (int i = 0; i < num_domains; ++i) {
      const int radix = weight_begin[i + 1] - weight_begin[i];
      if (radix < 1) throw Error(std::string(kWho) + ": domain " + std::to_string(i) +
                                 " has no initial component");
      table_size *= radix;
      if (table_size > (1LL << 24))
        throw Error(std::string(kWho) + ": too many initial-component choices (> 2^24)");
    }
    std::vector<int> bundle_of_choice(static_cast<std::size_t>(table_size), -1);
    std::vector<DeviceBundle> h_bundles;
    for (std::size_t e = 0; e < bundles.size(); ++e) {
      const SystemView& v = bundles[e].system->view();
      if (v.num_domains != num_domains || v.num_channels != num_channels)
        throw Error(std::string(kWho) + ": bundles of different models (domains or channels)");
      const auto& choice = bundles[e].choice;
      if (static_cast<int>(choice.size()) != num_domains)
        throw Error(std::string(kWho) + ": bundle choice must have one component per domain");
      const long long key = choice_key(weight_begin.data(), num_domains, choice.data());
      if (key < 0) throw Error(std::string(kWho) + ": bundle choice out of range");
      bundle_of_choice[static_cast<std::size_t>(key)] = static_cast<int>(e);
      max_dim = std::max(max_dim, v.max_sector_dim);
      h_bundles.push_back(upload_bundle(*bundles[e].system, static_cast<int>(e)));
    }
    d_bundles = upload(h_bundles.data(), h_bundles.size(), "bundle views");
    d_bundle_of_choice = upload(bundle_of_choice.data(), bundle_of_choice.size(),
                                "component-choice table");
    d_weights = upload(weights.data(), weights.size(), "component weights");
    d_weight_begin = upload(weight_begin.data(), weight_begin.size(), "component offsets");
    QTRAJ_CUDA_CHECK(cudaEventCreate(&start));
    QTRAJ_CUDA_CHECK(cudaEventCreate(&stop));
  }
};

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

void TrajectoryBatchRunner::run(std::int64_t first, std::int64_t count, std::uint64_t seed,
                                const PropagatorSettings& propagator,
                                const std::vector<double>& times, int jump_capacity,
                                std::int64_t record_end, BatchOutput& out) {
  Impl& s = *impl_;
  const bool adaptive = propagator.kind == PropagatorSettings::Kind::adaptive;
  const bool krylov = propagator.kind == PropagatorSettings::Kind::krylov;
  const int kind = static_cast<int>(propagator.kind);
  if (first < 0 || count < 0) throw Error(std::string(kWho) + ": negative trajectory range");
  if (times.empty()) throw Error(std::string(kWho) + ": empty output grid");
  if (!(times[0] >= 0.0) || !std::is_sorted(times.begin(), times.end()))
    throw Error(std::string(kWho) + ": the output grid must be ascending from times[0] >= 0");
  if (jump_capacity < 0) throw Error(std::string(kWho) + ": negative jump capacity");
  if (adaptive && !s.adaptive_ok)
    throw Error(std::string(kWho) + ": adaptive propagator asked for, but a bundle was built "
                                    "without the sparse K (TrajectorySystem(..., adaptive = true))");
  if (!adaptive && !krylov && !s.spectral_ok)
    throw Error(std::string(kWho) + ": spectral propagator asked for, but a bundle was built "
                                    "without eigensystems (TrajectorySystem(..., spectral = true))");
  if ((adaptive || krylov) && !(propagator.rtol > 0 && propagator.atol > 0))
    throw Error(std::string(kWho) + ": rtol and atol must be > 0 for the adaptive propagator");

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

  TrajectoryBatchArgs args;
  args.d_bundles = s.d_bundles;
  args.d_bundle_of_choice = s.d_bundle_of_choice;
  args.d_weights = s.d_weights;
  args.d_weight_begin = s.d_weight_begin;
  args.num_domains = s.num_domains;
  args.num_channels = c;
  args.max_dim = s.max_dim;
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

  // Block size: one thread per sector component (strided loops cover the rest).
  cudaFuncAttributes attr{};
  QTRAJ_CUDA_CHECK(gpu_trajectory_kernel_attributes(kind, &attr));
  const int block = s.launch.block_size > 0 ? s.launch.block_size : block_size_for(s.max_dim);
  if (block > attr.maxThreadsPerBlock)
    throw DeviceError(std::string(kWho) + ": block size " + std::to_string(block) +
                      " exceeds the kernel's limit of " + std::to_string(attr.maxThreadsPerBlock) +
                      " threads (" + std::to_string(attr.numRegs) + " registers per thread)");

  // Workspace: shared memory if doubles_needed * 8 fits the opt-in budget (minus static shared).
  args.krylov_basis = krylov ? trajectory::kKrylovMaxBasis : 0;
  const long long ws_doubles = TrajectoryWorkspace::doubles_needed(s.max_dim, c, args.krylov_basis);
  const long long ws_bytes = ws_doubles * static_cast<long long>(sizeof(double));
  int optin = 0;
  QTRAJ_CUDA_CHECK(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, s.info.device));
  const bool fits = ws_bytes + static_cast<long long>(attr.sharedSizeBytes) <= optin;
  bool shared = fits;
  if (s.launch.placement == WorkspacePlacement::global) shared = false;
  if (s.launch.placement == WorkspacePlacement::shared && !fits)
    throw DeviceError(std::string(kWho) + ": workspace of " + std::to_string(ws_bytes) +
                      " bytes per block does not fit shared memory (opt-in limit " +
                      std::to_string(optin) + " bytes, " + std::to_string(attr.sharedSizeBytes) +
                      " static)");
  const std::size_t dyn_shared = shared ? static_cast<std::size_t>(ws_bytes) : 0;
  if (shared) QTRAJ_CUDA_CHECK(gpu_set_trajectory_shared_limit(kind, static_cast<int>(dyn_shared)));

  // Grid: as many blocks as fit on the device at once (grid-stride covers the rest).
  int sms = 0, per_sm = 0;
  QTRAJ_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, s.info.device));
  QTRAJ_CUDA_CHECK(gpu_trajectory_occupancy(kind, block, dyn_shared, &per_sm));
  if (per_sm < 1)
    throw DeviceError(std::string(kWho) + ": no block of " + std::to_string(block) +
                      " threads with " + std::to_string(dyn_shared) +
                      " bytes of dynamic shared memory fits on an SM");
  long long grid = static_cast<long long>(per_sm) * sms;
  if (s.launch.max_blocks > 0) grid = std::min<long long>(grid, s.launch.max_blocks);
  grid = std::max<long long>(1, std::min<long long>(grid, count));
  if (!shared) {
    args.d_scratch = static_cast<double*>(s.scratch.ensure(
        static_cast<std::size_t>(grid * ws_bytes),
        "global workspaces (" + std::to_string(grid) + " blocks x " + std::to_string(ws_bytes) +
            " bytes)"));
    args.scratch_stride = ws_doubles;
  }

  s.info.block_size = block;
  s.info.grid_size = static_cast<int>(grid);
  s.info.workspace_bytes = ws_bytes;
  s.info.shared_workspace = shared;
  s.info.max_shared_optin = optin;

  QTRAJ_CUDA_CHECK(cudaEventRecord(s.start));
  if (krylov)
    QTRAJ_CUDA_CHECK(gpu_run_trajectories_krylov(args, propagator.rtol, propagator.atol,
                                                 static_cast<int>(grid), block, dyn_shared, 0));
  else if (adaptive)
    QTRAJ_CUDA_CHECK(gpu_run_trajectories_adaptive(args, propagator.rtol, propagator.atol,
                                                   static_cast<int>(grid), block, dyn_shared, 0));
  else
    QTRAJ_CUDA_CHECK(
        gpu_run_trajectories_spectral(args, static_cast<int>(grid), block, dyn_shared, 0));
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
