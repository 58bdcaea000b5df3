// Compiled only when QTRAJ_BUILD_CUDA=OFF: every GPU entry point throws NotCompiled.
#include <algorithm>

#include "qtraj/backend/cuda_dense.hpp"
#include "qtraj/backend/cuda_device.hpp"
#include "qtraj/backend/cuda_eigensystems.hpp"
#include "qtraj/backend/cuda_kernel_info.hpp"
#include "qtraj/backend/cuda_trajectory_runner.hpp"
#include "qtraj/error.hpp"

namespace qtraj::cuda {

std::string device_summary() { throw NotCompiled("cuda::device_summary"); }
DeviceMemory device_memory() { throw NotCompiled("cuda::device_memory"); }
bool device_available() { return false; }

// --- device set-up (kernels/eigensystems_cusolver.cu in CUDA builds) ---
bool device_eigensolver_available(std::string* why) {
  if (why) *why = "built without CUDA";
  return false;
}
void device_eigensystems(const std::vector<trajectory::SymmetricEigenTask>&, EigensystemsInfo*) {
  throw NotCompiled("cuda::device_eigensystems");
}

// --- the exact solver's products on cuBLAS (kernels/dense_cublas.cu in CUDA builds) ---
bool cublas_dense_available(std::string* why) {
  if (why) *why = "built without CUDA";
  return false;
}
std::unique_ptr<exact::DenseDevice> make_cublas_dense() {
  throw NotCompiled("cuda::make_cublas_dense");
}

std::vector<KernelResources> trajectory_kernel_resources(int, long long) {
  throw NotCompiled("cuda::trajectory_kernel_resources");
}

// --- TrajectoryBatchRunner (kernels/trajectory_batch_runner.cu in CUDA builds) ---
struct TrajectoryBatchRunner::Impl {};

TrajectoryBatchRunner::TrajectoryBatchRunner(const trajectory::TrajectorySystem&, LaunchSettings) {
  throw NotCompiled("cuda::TrajectoryBatchRunner");
}
TrajectoryBatchRunner::TrajectoryBatchRunner(const std::vector<double>&, const std::vector<int>&,
                                             const std::vector<BundleEntry>&, LaunchSettings) {
  throw NotCompiled("cuda::TrajectoryBatchRunner");
}
TrajectoryBatchRunner::~TrajectoryBatchRunner() = default;
TrajectoryBatchRunner::TrajectoryBatchRunner(TrajectoryBatchRunner&&) noexcept = default;
TrajectoryBatchRunner& TrajectoryBatchRunner::operator=(TrajectoryBatchRunner&&) noexcept = default;
void TrajectoryBatchRunner::run(std::int64_t, std::int64_t, std::uint64_t, const PropagatorSettings&,
                                const std::vector<double>&, int, std::int64_t, BatchOutput&) {
  throw NotCompiled("cuda::TrajectoryBatchRunner::run");
}
const LaunchInfo& TrajectoryBatchRunner::last_launch() const {
  throw NotCompiled("cuda::TrajectoryBatchRunner::last_launch");
}
void TrajectoryBatchRunner::run_ensemble(const EnsembleRequest&, const EnsembleSink&,
                                         std::vector<std::vector<std::int64_t>>&) {
  throw NotCompiled("cuda::TrajectoryBatchRunner::run_ensemble");
}
const EnsembleInfo& TrajectoryBatchRunner::last_ensemble() const {
  throw NotCompiled("cuda::TrajectoryBatchRunner::last_ensemble");
}
int TrajectoryBatchRunner::block_size_for(int max_sector_dim) {
  const int warps = (std::max(max_sector_dim, 1) + 31) / 32;
  return std::min(256, std::max(32, warps * 32));
}

}  // namespace qtraj::cuda
