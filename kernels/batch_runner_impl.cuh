#pragma once
// Private to the CUDA backend's host side: TrajectoryBatchRunner::Impl (the uploaded bundles, the
// launch configuration, device buffers) and small CUDA helpers, shared by
// trajectory_batch_runner.cu (per-trajectory batches) and trajectory_ensemble_runner.cu (whole
// runs aggregated on the device).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bundle_staging.cuh"
#include "cuda_check.cuh"
#include "cuda_library.cuh"
#include "trajectory_kernel.cuh"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/error.hpp"
#include "qtraj/trajectory/system.hpp"

namespace qtraj::cuda {

using trajectory::SystemView;
using trajectory::TrajectorySystem;
using trajectory::TrajectoryWorkspace;

namespace detail {

inline const char* const kWho = "cuda trajectory backend";

inline std::string format_bytes(double bytes) {
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
inline void* device_alloc(std::size_t bytes, const std::string& what) {
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
  std::size_t bytes() const { return bytes_; }

 private:
  void release() {
    if (ptr_) cudaFree(ptr_);  // no throw from a destructor
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

inline int checked_device(int requested) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    throw DeviceError(std::string(kWho) + ": no CUDA device (" + no_device_reason(status) + ")");
  }
  if (requested >= count)
    throw DeviceError(std::string(kWho) + ": CUDA device " + std::to_string(requested) +
                      " requested, " + std::to_string(count) + " visible");
  int device = requested;
  if (device < 0) QTRAJ_CUDA_CHECK(cudaGetDevice(&device));
  QTRAJ_CUDA_CHECK(cudaSetDevice(device));
  return device;
}

/// Launch configuration of the trajectory kernel for one propagator (Impl::configure).
struct KernelConfig {
  trajectory::PropagatorKind kind = trajectory::PropagatorKind::spectral;  // whose kernel
  int block = 0;
  long long ws_doubles = 0;  // per block, sized for the propagator
  bool shared = false;       // workspace in shared memory (else a global scratch slice)
  std::size_t dyn_shared = 0;
  long long grid = 0;        // blocks resident at once, at most the trajectories to run
};

}  // namespace detail

using detail::kWho;

/// run_ensemble's persistent buffers and streams (trajectory_ensemble_runner.cu).
struct EnsembleBuffers;
/// The sector-batched engine (sector_batch_kernels.cuh), made on first use.
class SectorBatchDriver;

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
  int max_excitation = 0;           // largest over the bundles (histogram bins)
  bool any_raising = false;         // some channel raises n (thermal): jump counts unbounded
  detail::DeviceBuffer times, obs, jumps, counts, jump_time, jump_channel, scratch;
  EnsembleInfo ensemble;
  std::shared_ptr<EnsembleBuffers> ensemble_buffers;  // kept across run_ensemble calls (grow-only)
  std::shared_ptr<SectorBatchDriver> sector_driver;   // EnsembleRequest::batch_sectors (grow-only)
  int num_bundles = 0;
  cudaEvent_t start = nullptr, stop = nullptr;

  ~Impl() {
    for (void* p : allocations) cudaFree(p);
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
  }

  template <class T>
  T* upload(const T* host, std::size_t n, const std::string& what) {
    if (n == 0 || host == nullptr) return nullptr;
    void* p = detail::device_alloc(n * sizeof(T), what);
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
    info.device = detail::checked_device(launch.device);
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
      max_excitation = std::max(max_excitation, v.max_excitation);
      for (int ch = 0; ch < v.num_channels; ++ch) any_raising = any_raising || v.channel_raising[ch] != 0;
      h_bundles.push_back(upload_bundle(*bundles[e].system, static_cast<int>(e)));
    }
    num_bundles = static_cast<int>(h_bundles.size());
    d_bundles = upload(h_bundles.data(), h_bundles.size(), "bundle views");
    d_bundle_of_choice = upload(bundle_of_choice.data(), bundle_of_choice.size(),
                                "component-choice table");
    d_weights = upload(weights.data(), weights.size(), "component weights");
    d_weight_begin = upload(weight_begin.data(), weight_begin.size(), "component offsets");
    QTRAJ_CUDA_CHECK(cudaEventCreate(&start));
    QTRAJ_CUDA_CHECK(cudaEventCreate(&stop));
  }

  /// Checks the run arguments shared by run() and run_ensemble().
  void validate(const PropagatorSettings& propagator, const std::vector<double>& times) const;
  /// Block size, workspace placement (per-propagator size), grid; allocates the global scratch if
  /// the workspace does not fit shared memory; fills info.
  /// `count`: trajectories the launches will cover at most (caps the grid and the scratch).
  detail::KernelConfig configure(trajectory::PropagatorKind kind, std::int64_t count);
  /// Launch arguments with the fields every batch shares filled in: the uploaded bundles, the
  /// component tables and the system's sizes (the caller adds the batch's range and buffers).
  TrajectoryBatchArgs bundle_args() const {
    TrajectoryBatchArgs args;
    args.d_bundles = d_bundles;
    args.d_bundle_of_choice = d_bundle_of_choice;
    args.d_weights = d_weights;
    args.d_weight_begin = d_weight_begin;
    args.num_domains = num_domains;
    args.num_channels = num_channels;
    args.max_dim = max_dim;
    return args;
  }
  /// Launches the trajectory kernel of `cfg` on `stream`.
  void launch_trajectories(const detail::KernelConfig& cfg, const PropagatorSettings& propagator,
                           TrajectoryBatchArgs args, cudaStream_t stream);
};

}  // namespace qtraj::cuda
