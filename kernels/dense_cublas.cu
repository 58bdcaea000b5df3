// The exact solver's dense products on the GPU with cuBLAS (include/qtraj/backend/cuda_dense.hpp,
// contract in include/qtraj/exact/dense_device.hpp). Host code only (cuBLAS launches its own
// kernels); cuBLAS is loaded with dlopen (see the header for why), its prototypes come from
// cublas_api.h.
#include <cublas_v2.h>  // defines CUBLASAPI (CUDA 12 requires it), then includes cublas_api.h
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda_check.cuh"
#include "cuda_library.cuh"
#include "qtraj/backend/cuda_dense.hpp"
#include "qtraj/error.hpp"
#include "qtraj/exact/sparse_congruence.hpp"

namespace qtraj::cuda {

// The library dlopened (cuda_library.cuh says why it is an array with external linkage).
extern const char kCublasSoname[];
const char kCublasSoname[] = "libcublas.so." QTRAJ_SONAME_MAJOR(CUBLAS_VER_MAJOR);

namespace {

// Every error of this file names the run-file setting that asked for the device.
const char* const kWho = "solver.backend = \"cuda\" (exact solver, cuBLAS products)";

/// The cuBLAS entry points used, resolved from the loaded library (exported names: the _v2 ones).
struct Cublas {
  void* lib = nullptr;
  std::string where, error;
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasDsymm_v2) dsymm = nullptr;
  decltype(&cublasDsyrkx) dsyrkx = nullptr;
  decltype(&cublasDgemm_v2) dgemm = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;  // optional
  bool ok() const { return lib != nullptr && error.empty(); }
};

Cublas load_cublas() {
  Cublas c;
  const LoadedLibrary loaded = open_cuda_library(
      "QTRAJ_CUBLAS_LIBRARY", kCublasSoname);
  c.lib = loaded.handle;
  c.where = loaded.where;
  if (!c.lib) {
    c.error = "cuBLAS not found (" + loaded.tried + "; set QTRAJ_CUBLAS_LIBRARY)";
    return c;
  }
  const bool all = resolve(c.lib, "cublasCreate_v2", c.create) &&
                   resolve(c.lib, "cublasDestroy_v2", c.destroy) &&
                   resolve(c.lib, "cublasSetStream_v2", c.set_stream) &&
                   resolve(c.lib, "cublasDsymm_v2", c.dsymm) &&
                   resolve(c.lib, "cublasDsyrkx", c.dsyrkx) &&
                   resolve(c.lib, "cublasDgemm_v2", c.dgemm);
  if (!all) c.error = c.where + " lacks a routine (dsymm / dsyrkx / dgemm)";
  resolve(c.lib, "cublasSetMathMode", c.set_math_mode);
  return c;
}

/// The library, loaded once per process (never unloaded).
const Cublas& cublas() {
  static const Cublas c = load_cublas();
  return c;
}

void check(cublasStatus_t status, const char* call, int m, int n) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw DeviceError(std::string(kWho) + ": " + call + " failed (cublasStatus " +
                      std::to_string(static_cast<int>(status)) + ") on a " + std::to_string(m) +
                      " x " + std::to_string(n) + " product");
}

// lower(S) += B W B^T for one sparse B (d x ds, CSR) and W (ds x ds, lower triangle valid): one
// thread per entry (a, a') of the lower triangle (sparse_congruence.hpp); launches are serialised
// on the stream, so the accumulation needs no atomics.
__global__ void sparse_congruence_kernel(int d, const int* row_ptr, const int* col,
                                         const double* val, const double* w, int ds, double* s) {
  const int a = blockIdx.y * blockDim.y + threadIdx.y;
  const int a_prime = blockIdx.x * blockDim.x + threadIdx.x;
  if (a >= d || a_prime > a) return;
  s[static_cast<std::size_t>(a_prime) * d + a] +=
      exact::sparse_congruence_entry(row_ptr, col, val, w, ds, a, a_prime);
}

// cudaMalloc that throws one line (out of memory: how much was asked and how much is free).
void* device_alloc_bytes(std::size_t bytes, const char* what) {
  void* p = nullptr;
  bytes = std::max<std::size_t>(bytes, 1);
  const cudaError_t s = cudaMalloc(&p, bytes);
  if (s != cudaSuccess) {
    (void)cudaGetLastError();
    std::size_t free = 0, total = 0;
    (void)cudaMemGetInfo(&free, &total);
    (void)cudaGetLastError();
    throw DeviceError(std::string(kWho) + ": cudaMalloc of " + std::to_string(bytes >> 20) +
                      " MiB for " + what + " failed: " + cudaGetErrorString(s) + " (" +
                      std::to_string(free >> 20) + " of " + std::to_string(total >> 20) +
                      " MiB free)");
  }
  return p;
}

double* device_alloc(std::size_t count, const char* what) {
  return static_cast<double*>(device_alloc_bytes(count * sizeof(double), what));
}

/// A device buffer that grows to the largest request and is reused.
struct Scratch {
  double* p = nullptr;
  std::size_t size = 0;
  const char* what;
  explicit Scratch(const char* w) : what(w) {}
  ~Scratch() {
    if (p) cudaFree(p);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  double* get(std::size_t count) {
    if (count > size) {
      if (p) {
        (void)cudaDeviceSynchronize();  // no kernel or copy may still use the old buffer
        cudaFree(p);
      }
      p = nullptr;
      size = 0;
      p = device_alloc(count, what);
      size = count;
    }
    return p;
  }
};

std::size_t entries(int rows, int cols) {
  return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
}

class CublasDense final : public exact::DenseDevice {
 public:
  CublasDense() : lib_(cublas()) {
    int count = 0;
    const cudaError_t s = cudaGetDeviceCount(&count);
    if (s != cudaSuccess || count == 0) {
      (void)cudaGetLastError();
      throw DeviceError(std::string(kWho) + ": no CUDA device (" + no_device_reason(s) + ")");
    }
    if (!lib_.ok()) throw DeviceError(std::string(kWho) + ": " + lib_.error);
    int device = 0;
    QTRAJ_CUDA_CHECK(cudaGetDevice(&device));
    cudaDeviceProp prop{};
    QTRAJ_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    name_ = prop.name;
    QTRAJ_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    try {
      check(lib_.create(&handle_), "cublasCreate", 0, 0);
      check(lib_.set_stream(handle_, stream_), "cublasSetStream", 0, 0);
      // IEEE double arithmetic throughout (no emulated or reduced-precision FP64 paths).
      if (lib_.set_math_mode)
        check(lib_.set_math_mode(handle_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode", 0, 0);
    } catch (...) {  // no destructor runs for a half-built object
      if (handle_) lib_.destroy(handle_);
      cudaStreamDestroy(stream_);
      throw;
    }
  }

  ~CublasDense() override {
    if (stream_) cudaStreamSynchronize(stream_);
    for (auto& kv : kept_) cudaFree(kv.second.d);
    for (auto& kv : sparse_) {
      cudaFree(kv.second.row_ptr);
      cudaFree(kv.second.col);
      cudaFree(kv.second.val);
    }
    if (handle_) lib_.destroy(handle_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string description() const override { return "cuBLAS " + name_; }

  void keep(const double* host, int rows, int cols) override {
    if (rows <= 0 || cols <= 0) return;
    auto it = kept_.find(host);
    if (it != kept_.end() && it->second.rows == rows && it->second.cols == cols) return;
    if (it != kept_.end()) {  // same address, new shape: replace
      traffic_.resident_bytes -= static_cast<std::int64_t>(entries(it->second.rows, it->second.cols) * sizeof(double));
      --traffic_.kept;
      cudaFree(it->second.d);
      kept_.erase(it);
    }
    const std::size_t n = entries(rows, cols);
    double* d = device_alloc(n, "the resident sector eigenvectors V_n");
    const cudaError_t s = cudaMemcpy(d, host, n * sizeof(double), cudaMemcpyHostToDevice);
    if (s != cudaSuccess) {
      cudaFree(d);
      QTRAJ_CUDA_CHECK(s);
    }
    kept_[host] = Kept{d, rows, cols};
    traffic_.resident_bytes += static_cast<std::int64_t>(n * sizeof(double));
    ++traffic_.kept;
  }

  bool is_kept(const double* host, int rows, int cols) const override {
    const auto it = kept_.find(host);
    return it != kept_.end() && it->second.rows == rows && it->second.cols == cols;
  }

  void congruence_lower(const double* a, bool transpose_a, int r, int k, const double* x,
                        double beta, double* c) override {
    if (r <= 0 || k <= 0) return;
    const int ar = transpose_a ? k : r, ac = transpose_a ? r : k;
    const double* da = operand(a, ar, ac);
    double* dx = upload(x_, x, entries(k, k));
    double* dc = beta != 0.0 ? upload(c_, c, entries(r, r)) : c_.get(entries(r, r));
    congruence_on_device(da, transpose_a, r, k, dx, beta, dc);
    // The strictly upper triangle of C is left as it was: with beta != 0 the device copy holds
    // the host's upper triangle (dsyrkx does not write it), so all of C comes back; with beta = 0
    // it holds stale scratch, so C comes back through a host buffer and only its lower triangle
    // is copied.
    if (beta != 0.0)
      download(c, dc, entries(r, r));
    else
      download_lower(c, dc, r);
    ++traffic_.products;
  }

  void keep_sparse(const void* key, int rows, int cols, const int* row_ptr, const int* col,
                   const double* val) override {
    if (rows <= 0 || cols <= 0 || sparse_.count(key)) return;
    const int nnz = row_ptr[rows];
    Sparse sp;
    sp.rows = rows;
    sp.cols = cols;
    const char* what = "the resident collapse-operator blocks";
    sp.row_ptr = static_cast<int*>(device_alloc_bytes(sizeof(int) * (rows + 1), what));
    sp.col = static_cast<int*>(device_alloc_bytes(sizeof(int) * std::max(nnz, 1), what));
    sp.val = device_alloc(std::max(nnz, 1), what);
    sparse_[key] = sp;  // freed by the destructor from here on, even if a copy below fails
    QTRAJ_CUDA_CHECK(cudaMemcpy(sp.row_ptr, row_ptr, sizeof(int) * (rows + 1), cudaMemcpyHostToDevice));
    if (nnz > 0) {
      QTRAJ_CUDA_CHECK(cudaMemcpy(sp.col, col, sizeof(int) * nnz, cudaMemcpyHostToDevice));
      QTRAJ_CUDA_CHECK(cudaMemcpy(sp.val, val, sizeof(double) * nnz, cudaMemcpyHostToDevice));
    }
    traffic_.resident_bytes +=
        static_cast<std::int64_t>(sizeof(int) * (rows + 1 + nnz) + sizeof(double) * nnz);
    ++traffic_.kept;
  }

  void basis_transfer(const double* v_target, int d, const std::vector<BasisSource>& sources,
                      double* s) override {
    if (d <= 0 || sources.empty()) return;
    double* ds_sum = s_.get(entries(d, d));  // S, lower triangle
    QTRAJ_CUDA_CHECK(cudaMemsetAsync(ds_sum, 0, entries(d, d) * sizeof(double), stream_));
    for (const BasisSource& src : sources) {
      const int ds = src.ds;
      if (ds <= 0) continue;
      const double* dv = operand(src.v, ds, ds);
      double* dx = upload(x_, src.x, entries(ds, ds));
      double* dw = w_.get(entries(ds, ds));
      congruence_on_device(dv, false, ds, ds, dx, 0.0, dw);  // lower(W) = V X V^T
      for (const void* key : src.operators) {
        const auto it = sparse_.find(key);
        if (it == sparse_.end() || it->second.rows != d || it->second.cols != ds)
          throw DeviceError(std::string(kWho) + ": basis_transfer: a collapse-operator block was "
                            "not kept (internal error)");
        const dim3 block(16, 16), grid((d + 15) / 16, (d + 15) / 16);
        sparse_congruence_kernel<<<grid, block, 0, stream_>>>(d, it->second.row_ptr, it->second.col,
                                                              it->second.val, dw, ds, ds_sum);
        QTRAJ_CUDA_CHECK(cudaPeekAtLastError());
      }
    }
    // (Looked up after the sources: a temporary upload of V_target must not overwrite theirs.)
    const double* dvt = operand(v_target, d, d);
    double* dc = c_.get(entries(d, d));
    congruence_on_device(dvt, true, d, d, ds_sum, 0.0, dc);  // lower(s) = V^T S V
    download_lower(s, dc, d);
    ++traffic_.products;
  }

  void multiply_symmetric(const double* a, int r, int k, const double* x, double* c) override {
    if (r <= 0 || k <= 0) return;
    const double* da = operand(a, r, k);
    double* dx = upload(x_, x, entries(k, k));
    double* dc = c_.get(entries(r, k));
    const double one = 1.0, zero = 0.0;
    check(lib_.dsymm(handle_, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_LOWER, r, k, &one, dx, k, da, r,
                     &zero, dc, r),
          "cublasDsymm", r, k);
    download(c, dc, entries(r, k));
    ++traffic_.products;
  }

  void multiply(const double* a, bool transpose_a, int m, int k, const double* b, int n,
                double* c) override {
    if (m <= 0 || n <= 0 || k <= 0) return;
    const double* da = transpose_a ? operand(a, k, m) : operand(a, m, k);
    double* db = upload(x_, b, entries(k, n));
    double* dc = c_.get(entries(m, n));
    const double one = 1.0, zero = 0.0;
    check(lib_.dgemm(handle_, transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one,
                     da, transpose_a ? k : m, db, k, &zero, dc, m),
          "cublasDgemm", m, n);
    download(c, dc, entries(m, n));
    ++traffic_.products;
  }

 private:
  struct Kept {
    double* d;
    int rows, cols;
  };
  struct Sparse {  // CSR on the device
    int* row_ptr = nullptr;
    int* col = nullptr;
    double* val = nullptr;
    int rows = 0, cols = 0;
  };

  // lower(C) = beta C + op(A) X op(A)^T on device pointers (X symmetric, lower triangle read):
  // B = op(A) X (dsymm), then dsyrkx, which writes only C's lower triangle.
  void congruence_on_device(const double* da, bool transpose_a, int r, int k, const double* dx,
                            double beta, double* dc) {
    double* db = b_.get(entries(r, k));  // op(A) X (r x k) or X A (k x r)
    const double one = 1.0, zero = 0.0;
    if (!transpose_a) {
      // B = A X (r x k); lower(C) = beta C + B A^T = beta C + A X A^T.
      check(lib_.dsymm(handle_, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_LOWER, r, k, &one, dx, k, da, r,
                       &zero, db, r),
            "cublasDsymm", r, k);
      check(lib_.dsyrkx(handle_, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, r, k, &one, db, r, da, r,
                        &beta, dc, r),
            "cublasDsyrkx", r, k);
    } else {
      // A is k x r; B = X A (k x r); lower(C) = beta C + B^T A = beta C + A^T X A.
      check(lib_.dsymm(handle_, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_LOWER, k, r, &one, dx, k, da, k,
                       &zero, db, k),
            "cublasDsymm", k, r);
      check(lib_.dsyrkx(handle_, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T, r, k, &one, db, k, da, k,
                        &beta, dc, r),
            "cublasDsyrkx", r, k);
    }
  }

  // The device copy of `a` (rows x cols): the kept one, else a temporary upload.
  const double* operand(const double* a, int rows, int cols) {
    const auto it = kept_.find(a);
    if (it != kept_.end() && it->second.rows == rows && it->second.cols == cols) return it->second.d;
    ++traffic_.temporary_uploads;
    return upload(tmp_, a, entries(rows, cols));
  }

  double* upload(Scratch& buf, const double* host, std::size_t count) {
    double* d = buf.get(count);
    QTRAJ_CUDA_CHECK(cudaMemcpyAsync(d, host, count * sizeof(double), cudaMemcpyHostToDevice, stream_));
    traffic_.bytes_to_device += static_cast<std::int64_t>(count * sizeof(double));
    return d;
  }

  void download(double* host, const double* d, std::size_t count) {
    QTRAJ_CUDA_CHECK(cudaMemcpyAsync(host, d, count * sizeof(double), cudaMemcpyDeviceToHost, stream_));
    QTRAJ_CUDA_CHECK(cudaStreamSynchronize(stream_));
    traffic_.bytes_from_device += static_cast<std::int64_t>(count * sizeof(double));
  }

  // Lower triangle (diagonal included) of the r x r column-major matrix at d into host.
  void download_lower(double* host, const double* d, int r) {
    staging_.resize(entries(r, r));
    download(staging_.data(), d, entries(r, r));
    for (int j = 0; j < r; ++j) {
      const std::size_t off = static_cast<std::size_t>(j) * r + j;
      std::copy(staging_.data() + off, staging_.data() + off + (r - j), host + off);
    }
  }

  const Cublas& lib_;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  std::unordered_map<const double*, Kept> kept_;
  std::unordered_map<const void*, Sparse> sparse_;
  std::vector<double> staging_;  // host side of download_lower
  Scratch x_{"the symmetric block X"}, b_{"the product op(A) X"}, c_{"the result C"},
      tmp_{"an operand that is not resident"}, w_{"the Dicke-basis block W"},
      s_{"the Dicke-basis transfer S"};
};

}  // namespace

bool cublas_dense_available(std::string* why) {
  if (!cuda_device_present(why)) return false;
  const Cublas& c = cublas();
  if (!c.ok()) {
    if (why) *why = c.error;
    return false;
  }
  if (why) *why = "cuBLAS from " + c.where;
  return true;
}

std::unique_ptr<exact::DenseDevice> make_cublas_dense() {
  return std::make_unique<CublasDense>();
}

}  // namespace qtraj::cuda
