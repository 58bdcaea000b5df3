#pragma once
// A device that runs the exact solver's dense products (dense_kernels.hpp) with operands resident
// in its own memory: DenseKernels::cublas (solver.backend = "cuda" with solver.kind = "exact";
// implemented with cuBLAS in kernels/dense_cublas.cu, made by cuda::make_cublas_dense(),
// include/qtraj/backend/cuda_dense.hpp).
//
// Contract. The constant operands of a SectorSystem (the eigenvectors V_n and the transfer
// matrices G_c = V_t^T C_c V_n) are copied to the device once, by keep(), and named afterwards by
// their host address: a product whose `a` was kept moves only the symmetric block X (host ->
// device) and the result C (device -> host; and host -> device first when beta != 0). An `a`
// that was not kept is uploaded for that one product (correct, counted in
// Traffic::temporary_uploads, slow). A kept matrix must not change or be freed while the device
// lives: the owner (SectorSystem) keeps it unchanged and outlives nothing it kept.
//
// The math is that of dense_kernels.hpp, to rounding (about 1e-15 relative per product):
//   congruence_lower:   lower(C) = beta C + op(A) X op(A)^T, X symmetric (both triangles stored);
//   multiply_symmetric: C = A X, X symmetric;
//   multiply:           C = op(A) B.
// All matrices are column-major with leading dimension their row count; x, b and c are host
// memory. Not thread safe: one device per SectorSystem, used by one thread (as SectorSystem is).
#include <cstdint>
#include <string>

namespace qtraj {
namespace exact {

class DenseDevice {
 public:
  /// Bytes moved and products run since construction (benchmarks, tests).
  struct Traffic {
    std::int64_t bytes_to_device = 0;    // X, C (beta != 0), temporaries; keep() not counted
    std::int64_t bytes_from_device = 0;  // results
    std::int64_t resident_bytes = 0;     // what keep() holds
    std::int64_t kept = 0;               // matrices kept
    std::int64_t temporary_uploads = 0;  // products whose `a` was not kept
    std::int64_t products = 0;
  };

  virtual ~DenseDevice() = default;
  /// What runs the products, for the result attribute exact_dense_kernels: "cuBLAS <device name>".
  virtual std::string description() const = 0;
  /// Copies the rows x cols matrix at `host` to the device, once (a second keep of the same
  /// address and shape is a no-op). Throws DeviceError (one line) when device memory runs out.
  virtual void keep(const double* host, int rows, int cols) = 0;
  /// True if `host` was kept with this shape.
  virtual bool is_kept(const double* host, int rows, int cols) const = 0;

  virtual void congruence_lower(const double* a, bool transpose_a, int r, int k, const double* x,
                                double beta, double* c) = 0;
  virtual void multiply_symmetric(const double* a, int r, int k, const double* x, double* c) = 0;
  virtual void multiply(const double* a, bool transpose_a, int m, int k, const double* b, int n,
                        double* c) = 0;

  const Traffic& traffic() const { return traffic_; }

 protected:
  Traffic traffic_;
};

}  // namespace exact
}  // namespace qtraj
