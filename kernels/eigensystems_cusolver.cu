// The per-sector eigensystems on the device with cuSOLVER (include/qtraj/backend/cuda_eigensystems.hpp).
// Host code only (cuSOLVER launches its own kernels); cuSOLVER is loaded with dlopen (see the
// header for why), its prototypes come from cusolverDn.h.
//
// Per dimension d (sectors of equal d are independent problems of one shape):
//   pack the group's K_n column-major into one host staging buffer -> one H2D copy -> solve
//   (syevjBatched / XsyevBatched / syevd per matrix) -> one D2H copy of V and lambda -> unpack.
// Calls are cut so that a call's matrices take at most kBatchBytes of device memory (plus
// cuSOLVER's workspace), never all of a large bundle at once.
#include <cuda_runtime.h>
#include <cusolverDn.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda_check.cuh"
#include "cuda_library.cuh"
#include "qtraj/backend/cuda_eigensystems.hpp"
#include "qtraj/error.hpp"

namespace qtraj::cuda {

// The library dlopened (cuda_library.cuh says why it is an array with external linkage).
extern const char kCusolverSoname[];
const char kCusolverSoname[] = "libcusolver.so." QTRAJ_SONAME_MAJOR(CUSOLVER_VER_MAJOR);

namespace {

const char* const kWhoEig = "cuda set-up (cuSOLVER eigensystems)";
constexpr std::size_t kBatchBytes = std::size_t(512) << 20;  // matrices per call, device bytes
constexpr std::int64_t kJacobiMaxDim = 32;                   // syevjBatched's limit

// cusolverDnXsyevBatched and its buffer query (cuSOLVER >= 11.7, CUDA 12.6), declared here:
// older headers (CUDA 12.4, the container image's CUDA 12 variant) lack them, and the library
// loaded at run time may still have them. Where the headers declare them, the types must agree.
using XsyevBatchedBufferSize = cusolverStatus_t (*)(
    cusolverDnHandle_t, cusolverDnParams_t, cusolverEigMode_t, cublasFillMode_t, int64_t n,
    cudaDataType typeA, const void* A, int64_t lda, cudaDataType typeW, const void* W,
    cudaDataType computeType, size_t* deviceBytes, size_t* hostBytes, int64_t batchSize);
using XsyevBatched = cusolverStatus_t (*)(
    cusolverDnHandle_t, cusolverDnParams_t, cusolverEigMode_t, cublasFillMode_t, int64_t n,
    cudaDataType typeA, void* A, int64_t lda, cudaDataType typeW, void* W,
    cudaDataType computeType, void* deviceBuffer, size_t deviceBytes, void* hostBuffer,
    size_t hostBytes, int* info, int64_t batchSize);
#if CUSOLVER_VERSION >= 11700
static_assert(std::is_same_v<XsyevBatchedBufferSize, decltype(&cusolverDnXsyevBatched_bufferSize)>);
static_assert(std::is_same_v<XsyevBatched, decltype(&cusolverDnXsyevBatched)>);
#endif

/// The cuSOLVER entry points used, resolved from the loaded library.
struct Cusolver {
  void* lib = nullptr;
  std::string where, error;
  decltype(&cusolverDnCreate) create = nullptr;
  decltype(&cusolverDnDestroy) destroy = nullptr;
  decltype(&cusolverDnSetStream) set_stream = nullptr;
  decltype(&cusolverDnCreateSyevjInfo) create_syevj = nullptr;
  decltype(&cusolverDnDestroySyevjInfo) destroy_syevj = nullptr;
  decltype(&cusolverDnXsyevjSetMaxSweeps) syevj_sweeps = nullptr;
  decltype(&cusolverDnXsyevjSetSortEig) syevj_sort = nullptr;
  decltype(&cusolverDnDsyevjBatched_bufferSize) syevj_batched_size = nullptr;
  decltype(&cusolverDnDsyevjBatched) syevj_batched = nullptr;
  decltype(&cusolverDnDsyevd_bufferSize) syevd_size = nullptr;
  decltype(&cusolverDnDsyevd) syevd = nullptr;
  // Optional (cuSOLVER >= 11.7, CUDA 12.6): batched syev of any n.
  decltype(&cusolverDnCreateParams) create_params = nullptr;
  decltype(&cusolverDnDestroyParams) destroy_params = nullptr;
  XsyevBatchedBufferSize syev_batched_size = nullptr;
  XsyevBatched syev_batched = nullptr;

  bool ok() const { return lib != nullptr && error.empty(); }
};

Cusolver load_cusolver() {
  Cusolver c;
  const LoadedLibrary loaded = open_cuda_library(
      "QTRAJ_CUSOLVER_LIBRARY", kCusolverSoname);
  c.lib = loaded.handle;
  c.where = loaded.where;
  if (!c.lib) {
    c.error = "cuSOLVER not found (" + loaded.tried + ")";
    return c;
  }
  bool all = resolve(c.lib, "cusolverDnCreate", c.create) &&
             resolve(c.lib, "cusolverDnDestroy", c.destroy) &&
             resolve(c.lib, "cusolverDnSetStream", c.set_stream) &&
             resolve(c.lib, "cusolverDnCreateSyevjInfo", c.create_syevj) &&
             resolve(c.lib, "cusolverDnDestroySyevjInfo", c.destroy_syevj) &&
             resolve(c.lib, "cusolverDnXsyevjSetMaxSweeps", c.syevj_sweeps) &&
             resolve(c.lib, "cusolverDnXsyevjSetSortEig", c.syevj_sort) &&
             resolve(c.lib, "cusolverDnDsyevjBatched_bufferSize", c.syevj_batched_size) &&
             resolve(c.lib, "cusolverDnDsyevjBatched", c.syevj_batched) &&
             resolve(c.lib, "cusolverDnDsyevd_bufferSize", c.syevd_size) &&
             resolve(c.lib, "cusolverDnDsyevd", c.syevd);
  if (!all) {
    c.error = c.where + " lacks a routine (syevjBatched / syevd)";
    return c;
  }
  const bool batched = resolve(c.lib, "cusolverDnCreateParams", c.create_params) &&
                       resolve(c.lib, "cusolverDnDestroyParams", c.destroy_params) &&
                       resolve(c.lib, "cusolverDnXsyevBatched_bufferSize", c.syev_batched_size) &&
                       resolve(c.lib, "cusolverDnXsyevBatched", c.syev_batched);
  if (!batched) c.syev_batched = nullptr;  // older cuSOLVER: syevd per sector
  return c;
}

/// The library, loaded once per process (never unloaded).
const Cusolver& cusolver() {
  static const Cusolver c = load_cusolver();
  return c;
}

std::mutex& solve_mutex() {
  static std::mutex m;
  return m;
}

void check(cusolverStatus_t status, const char* call, std::int64_t d, std::int64_t count) {
  if (status != CUSOLVER_STATUS_SUCCESS)
    throw DeviceError(std::string(kWhoEig) + ": " + call + " failed (cusolverStatus " +
                      std::to_string(static_cast<int>(status)) + ") on " + std::to_string(count) +
                      " sector(s) of dimension " + std::to_string(d));
}

/// Device memory that frees itself.
struct DeviceMemory {
  void* p = nullptr;
  DeviceMemory(std::size_t bytes, const char* what) {
    if (bytes == 0) return;
    const cudaError_t s = cudaMalloc(&p, bytes);
    if (s != cudaSuccess) {
      (void)cudaGetLastError();
      p = nullptr;
      throw DeviceError(std::string(kWhoEig) + ": cudaMalloc of " + std::to_string(bytes) +
                        " bytes for " + what + " failed: " + cudaGetErrorString(s));
    }
  }
  ~DeviceMemory() {
    if (p) cudaFree(p);
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p); }
};

/// A cuSOLVER handle (and its parameter objects) on one stream, released on scope exit.
struct Session {
  const Cusolver& lib;
  cusolverDnHandle_t handle = nullptr;
  syevjInfo_t jacobi = nullptr;
  cusolverDnParams_t params = nullptr;
  cudaStream_t stream = nullptr;
  explicit Session(const Cusolver& l) : lib(l) {
    QTRAJ_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    check(lib.create(&handle), "cusolverDnCreate", 0, 0);
    check(lib.set_stream(handle, stream), "cusolverDnSetStream", 0, 0);
    check(lib.create_syevj(&jacobi), "cusolverDnCreateSyevjInfo", 0, 0);
    check(lib.syevj_sweeps(jacobi, 100), "cusolverDnXsyevjSetMaxSweeps", 0, 0);
    check(lib.syevj_sort(jacobi, 1), "cusolverDnXsyevjSetSortEig", 0, 0);  // ascending
    if (lib.syev_batched) check(lib.create_params(&params), "cusolverDnCreateParams", 0, 0);
  }
  ~Session() {
    if (stream) cudaStreamSynchronize(stream);
    if (params) lib.destroy_params(params);
    if (jacobi) lib.destroy_syevj(jacobi);
    if (handle) lib.destroy(handle);
    if (stream) cudaStreamDestroy(stream);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

/// Solves tasks[idx[0..count)] (all of dimension d) in one call; `A` holds them packed on the
/// device, `W` gets the eigenvalues. Returns after the results are in A / W (stream synchronised)
/// and every matrix's info is 0.
void solve_group(Session& s, std::int64_t d, int count, double* A, double* W,
                 EigensystemsInfo& info) {
  const cusolverEigMode_t jobz = CUSOLVER_EIG_MODE_VECTOR;
  const cublasFillMode_t uplo = CUBLAS_FILL_MODE_LOWER;
  const int n = static_cast<int>(d);
  DeviceMemory dinfo(sizeof(int) * count, "eigensolver status");
  if (d <= kJacobiMaxDim) {
    int lwork = 0;
    check(s.lib.syevj_batched_size(s.handle, jobz, uplo, n, A, n, W, &lwork, s.jacobi, count),
          "cusolverDnDsyevjBatched_bufferSize", d, count);
    DeviceMemory work(sizeof(double) * static_cast<std::size_t>(std::max(lwork, 1)), "syevjBatched workspace");
    check(s.lib.syevj_batched(s.handle, jobz, uplo, n, A, n, W, work.as<double>(), lwork,
                              dinfo.as<int>(), s.jacobi, count),
          "cusolverDnDsyevjBatched", d, count);
    ++info.syevj_batched_calls;
    QTRAJ_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  } else if (count > 1 && s.lib.syev_batched) {
    std::size_t dev_bytes = 0, host_bytes = 0;
    check(s.lib.syev_batched_size(s.handle, s.params, jobz, uplo, d, CUDA_R_64F, A, d, CUDA_R_64F,
                                  W, CUDA_R_64F, &dev_bytes, &host_bytes, count),
          "cusolverDnXsyevBatched_bufferSize", d, count);
    DeviceMemory work(std::max<std::size_t>(dev_bytes, 1), "syevBatched workspace");
    std::vector<char> host_work(std::max<std::size_t>(host_bytes, 1));
    check(s.lib.syev_batched(s.handle, s.params, jobz, uplo, d, CUDA_R_64F, A, d, CUDA_R_64F, W,
                             CUDA_R_64F, work.p, dev_bytes, host_work.data(), host_bytes,
                             dinfo.as<int>(), count),
          "cusolverDnXsyevBatched", d, count);
    ++info.syev_batched_calls;
    QTRAJ_CUDA_CHECK(cudaStreamSynchronize(s.stream));  // host_work must outlive the call
  } else {
    int lwork = 0;
    check(s.lib.syevd_size(s.handle, jobz, uplo, n, A, n, W, &lwork), "cusolverDnDsyevd_bufferSize",
          d, 1);
    DeviceMemory work(sizeof(double) * static_cast<std::size_t>(std::max(lwork, 1)), "syevd workspace");
    for (int k = 0; k < count; ++k) {
      check(s.lib.syevd(s.handle, jobz, uplo, n, A + static_cast<std::size_t>(k) * d * d, n,
                        W + static_cast<std::size_t>(k) * d, work.as<double>(), lwork,
                        dinfo.as<int>() + k),
            "cusolverDnDsyevd", d, 1);
      ++info.syevd_calls;
    }
    QTRAJ_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  }
  std::vector<int> status(count);
  QTRAJ_CUDA_CHECK(
      cudaMemcpy(status.data(), dinfo.p, sizeof(int) * count, cudaMemcpyDeviceToHost));
  for (int k = 0; k < count; ++k)
    if (status[k] != 0)
      throw DeviceError(std::string(kWhoEig) + ": the eigensolver " +
                        (status[k] > 0 ? "did not converge" : "rejected argument " +
                                                                  std::to_string(-status[k])) +
                        " on a sector of dimension " + std::to_string(d) + " (info " +
                        std::to_string(status[k]) + ")");
}

}  // namespace

bool device_eigensolver_available(std::string* why) {
  if (!cuda_device_present(why)) return false;
  const Cusolver& c = cusolver();
  if (!c.ok()) {
    if (why) *why = c.error;
    return false;
  }
  if (why) *why = "cuSOLVER from " + c.where + (c.syev_batched ? "" : " (no XsyevBatched: syevd)");
  return true;
}

void device_eigensystems(const std::vector<trajectory::SymmetricEigenTask>& tasks,
                         EigensystemsInfo* info_out) {
  const auto t0 = std::chrono::steady_clock::now();
  EigensystemsInfo info;
  const Cusolver& lib = cusolver();
  if (!lib.ok()) throw DeviceError(std::string(kWhoEig) + ": " + lib.error);
  std::lock_guard<std::mutex> lock(solve_mutex());

  // Group by dimension; d = 1 on the host.
  std::map<std::int64_t, std::vector<std::size_t>> by_dim;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const auto& t = tasks[i];
    if (t.dim <= 0) continue;
    if (t.matrix == nullptr || t.lambda == nullptr)
      throw Error(std::string(kWhoEig) + ": task without matrix or eigenvalue storage");
    if (t.dim > (std::int64_t(1) << 20))
      throw Error(std::string(kWhoEig) + ": sector dimension " + std::to_string(t.dim) + " too large");
    if (t.dim == 1) {
      t.lambda[0] = t.matrix[0];
      t.matrix[0] = 1.0;
      ++info.host_sectors;
      continue;
    }
    by_dim[t.dim].push_back(i);
  }
  if (!by_dim.empty()) {
    Session session(lib);
    for (const auto& [d, idx] : by_dim) {
      const std::size_t dd = static_cast<std::size_t>(d) * static_cast<std::size_t>(d);
      const std::size_t per_call =
          std::max<std::size_t>(1, kBatchBytes / (sizeof(double) * (dd + static_cast<std::size_t>(d))));
      for (std::size_t first = 0; first < idx.size(); first += per_call) {
        const int count = static_cast<int>(std::min(per_call, idx.size() - first));
        std::vector<double> stage(dd * count);
        for (int k = 0; k < count; ++k)
          std::copy(tasks[idx[first + k]].matrix, tasks[idx[first + k]].matrix + dd,
                    stage.begin() + k * dd);
        DeviceMemory A(sizeof(double) * stage.size(), "sector matrices");
        DeviceMemory W(sizeof(double) * static_cast<std::size_t>(d) * count, "eigenvalues");
        QTRAJ_CUDA_CHECK(cudaMemcpy(A.p, stage.data(), sizeof(double) * stage.size(),
                                    cudaMemcpyHostToDevice));
        solve_group(session, d, count, A.as<double>(), W.as<double>(), info);
        std::vector<double> lambda(static_cast<std::size_t>(d) * count);
        QTRAJ_CUDA_CHECK(cudaMemcpy(stage.data(), A.p, sizeof(double) * stage.size(),
                                    cudaMemcpyDeviceToHost));
        QTRAJ_CUDA_CHECK(cudaMemcpy(lambda.data(), W.p, sizeof(double) * lambda.size(),
                                    cudaMemcpyDeviceToHost));
        for (int k = 0; k < count; ++k) {
          const auto& t = tasks[idx[first + k]];
          std::copy(stage.begin() + k * dd, stage.begin() + (k + 1) * dd, t.matrix);
          std::copy(lambda.begin() + k * d, lambda.begin() + (k + 1) * d, t.lambda);
        }
      }
    }
  }
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (info_out) *info_out = info;
}

}  // namespace qtraj::cuda
