#pragma once
// A device that runs the exact solver's dense products (dense_kernels.hpp) with operands resident
// in its own memory: DenseKernels::cublas (solver.backend = "cuda" with solver.kind = "exact";
// implemented with cuBLAS in kernels/dense_cublas.cu, made by cuda::make_cublas_dense(),
// include/qtraj/backend/cuda_dense.hpp).
//
// Contract. The constant operands of a SectorSystem (the eigenvectors V_n; any other dense
// operand a caller wants resident) are copied to the device once, by keep(), and named afterwards
// by their host address: a product whose `a` was kept moves only the symmetric block X (host ->
// device) and the result C (device -> host; and host -> device first when beta != 0). An `a`
// that was not kept is uploaded for that one product (correct, counted in
// Traffic::temporary_uploads, slow). A kept matrix must not change or be freed while the device
// lives: the owner (SectorSystem) keeps it unchanged and outlives nothing it kept.
//
// The sparse collapse-operator blocks of the transfer via the Dicke basis are kept likewise
// (keep_sparse), so that transfer (basis_transfer) moves only the source blocks X and the result.
// The math is that of dense_kernels.hpp, to rounding (about 1e-15 relative per product):
//   congruence_lower:   lower(C) = beta C + op(A) X op(A)^T, X symmetric (both triangles stored);
//   multiply_symmetric: C = A X, X symmetric;
//   multiply:           C = op(A) B.
// All matrices are column-major with leading dimension their row count; x, b and c are host
// memory. Not thread safe: one device per SectorSystem, used by one thread (as SectorSystem is).
#include <cstdint>
#include <string>
#include <vector>

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

  /// Copies the rows x cols sparse matrix in CSR form (row_ptr has rows + 1 entries) to the
  /// device once, named by `key` afterwards (a second keep of the same key is a no-op).
  virtual void keep_sparse(const void* key, int rows, int cols, const int* row_ptr,
                           const int* col, const double* val) = 0;
  /// One source of basis_transfer: the symmetric block x (ds x ds) in the eigenbasis v (kept,
  /// ds x ds) of its sector, carried by the kept sparse operators `operators` (each d x ds).
  struct BasisSource {
    const double* v;
    int ds;
    const double* x;
    std::vector<const void*> operators;
  };
  /// The transfer into a sector via the Dicke basis (sector_system.hpp), all on the device:
  ///   lower(s) = lower(V^T S V),  S = sum_sources sum_B B (v x v^T) B^T,
  /// v_target (d x d) kept; x host memory (moves in), s host memory (lower triangle moves out;
  /// the strictly upper triangle is left as it was). The sparse step is sparse_congruence.hpp.
  virtual void basis_transfer(const double* v_target, int d,
                              const std::vector<BasisSource>& sources, double* s) = 0;

  const Traffic& traffic() const { return traffic_; }

 protected:
  Traffic traffic_;
};

}  // namespace exact
}  // namespace qtraj
