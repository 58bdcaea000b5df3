// The exact solver's dense products on Eigen or CBLAS (see include/qtraj/exact/dense_kernels.hpp).
#include "qtraj/exact/dense_kernels.hpp"

#include "qtraj/error.hpp"
#include "qtraj/model/run_config.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

// OpenBLAS extensions (weak: absent from other BLAS libraries; declared in every build, so that
// BlasThreads also governs an OpenBLAS linked for LAPACK only).
extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" char* openblas_get_corename(void) __attribute__((weak));
#ifdef QTRAJ_HAVE_CBLAS
#include <cblas.h>
// gotoblas_dynamic_* exist only in OpenBLAS's DYNAMIC_ARCH builds (Debian's): quit forgets the
// kernel table, init chooses it again, honouring OPENBLAS_CORETYPE (driver/others/dynamic.c).
extern "C" void gotoblas_dynamic_init(void) __attribute__((weak));
extern "C" void gotoblas_dynamic_quit(void) __attribute__((weak));
#endif

namespace qtraj {
namespace exact {
namespace {

using Mat = Eigen::MatrixXd;
using Map = Eigen::Map<Mat>;
using ConstMap = Eigen::Map<const Mat>;

#ifdef QTRAJ_HAVE_CBLAS
// The kernel family this CPU supports, or "" when the dispatcher's choice should stand.
std::string wanted_coretype() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

// OpenBLAS core names weaker than the AVX2/AVX-512 kernels (its fall-backs for unknown CPUs).
bool is_fallback_core(const std::string& name) {
  static const char* const weak[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                     "Atom", "Unknown", "Katmai", "Banias", "Northwood"};
  return std::any_of(std::begin(weak), std::end(weak),
                     [&](const char* w) { return name == w; });
}
#endif

// The one OpenBLAS thread count of the process and its holders (BlasThreads). Requests are
// served in ticket order; a request enters when it is first in line and either nobody holds the
// count or the count in force is the one it wants. The count is changed only with no holder, so
// never under a BLAS call that a holder makes.
class BlasArbiter {
 public:
  void acquire(int threads) {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t ticket = next_ticket_++;
    turn_.wait(lock, [&] { return ticket == serving_ && (holders_ == 0 || count_ == threads); });
    if (count_ != threads) {
      if (openblas_set_num_threads) openblas_set_num_threads(threads);
      count_ = threads;
    }
    ++holders_;
    ++serving_;
    turn_.notify_all();  // the next in line may want the same count
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--holders_ == 0) turn_.notify_all();
  }
  // Runs f when first in line with no holder, with nobody else admitted meanwhile.
  template <class F>
  void exclusive(F&& f) {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t ticket = next_ticket_++;
    turn_.wait(lock, [&] { return ticket == serving_ && holders_ == 0; });
    f();
    ++serving_;
    turn_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable turn_;
  std::uint64_t next_ticket_ = 0, serving_ = 0;
  int holders_ = 0;
  int count_ = 0;  // 0: not set by qtraj yet (OpenBLAS's own default: OPENBLAS_NUM_THREADS or all cores)
};

BlasArbiter& blas_arbiter() {
  static BlasArbiter arbiter;
  return arbiter;
}

// DenseKernels::cublas: the device that runs the product (a missing one is a programming error).
DenseDevice& device_for(DenseDevice* device, const char* what) {
  if (!device)
    throw Error(std::string("exact::") + what + ": DenseKernels::cublas needs a DenseDevice");
  return *device;
}

}  // namespace

bool blas_available() {
#ifdef QTRAJ_HAVE_CBLAS
  return true;
#else
  return false;
#endif
}

DenseKernels default_dense_kernels() {
  return blas_available() ? DenseKernels::blas : DenseKernels::eigen;
}

std::string initialize_blas() {
  // A function-local static: the first call does the work, concurrent first calls wait for it.
  static const std::string core = [] {
    std::string name;
    blas_arbiter().exclusive([&] {
#ifdef QTRAJ_HAVE_CBLAS
      name = openblas_get_corename ? openblas_get_corename() : "CBLAS";
      if (openblas_get_corename && gotoblas_dynamic_init && gotoblas_dynamic_quit &&
          !std::getenv("OPENBLAS_CORETYPE") && is_fallback_core(name)) {
        const std::string want = wanted_coretype();
        if (!want.empty()) {
          setenv("OPENBLAS_CORETYPE", want.c_str(), 0);
          gotoblas_dynamic_quit();
          gotoblas_dynamic_init();
          name = openblas_get_corename();
        }
      }
#endif
    });
    return name;
  }();
  return core;
}

BlasThreads::BlasThreads(int threads) : threads_(resolve_thread_count(threads)) {
  blas_arbiter().acquire(threads_);
}

BlasThreads::~BlasThreads() { blas_arbiter().release(); }

std::string BlasThreads::description() const {
#ifdef QTRAJ_HAVE_CBLAS
  const std::string core = openblas_get_corename ? openblas_get_corename() : "CBLAS";
  return (openblas_get_corename ? "OpenBLAS " : "") + core + ", " + std::to_string(threads_) +
         (threads_ == 1 ? " thread" : " threads");
#else
  return "Eigen (no BLAS in this build)";
#endif
}

void congruence_lower(DenseKernels kernels, const double* a, bool transpose_a, int r, int k,
                      const double* x, double beta, double* c, std::vector<double>& work,
                      DenseDevice* device) {
  if (r <= 0) return;
  if (kernels == DenseKernels::cublas && k > 0) {
    device_for(device, "congruence_lower").congruence_lower(a, transpose_a, r, k, x, beta, c);
    return;
  }
  Map cm(c, r, r);
  // beta = 0: C may hold garbage (as in BLAS, it is not read); zeroed here for both paths.
  if (beta == 0.0)
    cm.triangularView<Eigen::Lower>().setZero();
  else if (k <= 0 && beta != 1.0)
    cm.triangularView<Eigen::Lower>() = (beta * cm).eval();
  if (k <= 0) return;
#ifdef QTRAJ_HAVE_CBLAS
  if (kernels == DenseKernels::blas) {
    const std::size_t nb = static_cast<std::size_t>(r) * k, nl = static_cast<std::size_t>(k) * k;
    work.resize(nb + nl);
    double* b = work.data();
    double* l = work.data() + nb;
    std::memcpy(l, x, nl * sizeof(double));  // L = lower(X), diagonal halved (upper unread)
    for (int i = 0; i < k; ++i) l[static_cast<std::size_t>(i) * k + i] *= 0.5;
    std::memcpy(b, a, nb * sizeof(double));
    if (!transpose_a) {
      // B = A L (r x k); C = beta C + B A^T + A B^T.
      cblas_dtrmm(CblasColMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, r, k, 1.0, l,
                  k, b, r);
      cblas_dsyr2k(CblasColMajor, CblasLower, CblasNoTrans, r, k, 1.0, b, r, a, r, beta, c, r);
    } else {
      // A is k x r; B = L^T A (k x r); C = beta C + B^T A + A^T B.
      cblas_dtrmm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, k, r, 1.0, l, k,
                  b, k);
      cblas_dsyr2k(CblasColMajor, CblasLower, CblasTrans, r, k, 1.0, b, k, a, k, beta, c, r);
    }
    return;
  }
#endif
  (void)work;
  ConstMap xm(x, k, k);
  Mat tmp;
  if (beta != 0.0 && beta != 1.0)
    cm.triangularView<Eigen::Lower>() = (beta * cm).eval();
  if (!transpose_a) {
    ConstMap am(a, r, k);
    tmp.noalias() = am * xm;
    cm.triangularView<Eigen::Lower>() += tmp * am.transpose();
  } else {
    ConstMap am(a, k, r);
    tmp.noalias() = am.transpose() * xm;
    cm.triangularView<Eigen::Lower>() += tmp * am;
  }
}

void multiply_symmetric(DenseKernels kernels, const double* a, int r, int k, const double* x,
                        double* c, DenseDevice* device) {
  if (r <= 0 || k <= 0) return;
  if (kernels == DenseKernels::cublas) {
    device_for(device, "multiply_symmetric").multiply_symmetric(a, r, k, x, c);
    return;
  }
#ifdef QTRAJ_HAVE_CBLAS
  if (kernels == DenseKernels::blas) {
    cblas_dsymm(CblasColMajor, CblasRight, CblasLower, r, k, 1.0, x, k, a, r, 0.0, c, r);
    return;
  }
#endif
  (void)kernels;
  Map(c, r, k).noalias() = ConstMap(a, r, k) * ConstMap(x, k, k);
}

void multiply(DenseKernels kernels, const double* a, bool transpose_a, int m, int k,
              const double* b, int n, double* c, DenseDevice* device) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    Map(c, m, n).setZero();
    return;
  }
  if (kernels == DenseKernels::cublas) {
    device_for(device, "multiply").multiply(a, transpose_a, m, k, b, n, c);
    return;
  }
#ifdef QTRAJ_HAVE_CBLAS
  if (kernels == DenseKernels::blas) {
    cblas_dgemm(CblasColMajor, transpose_a ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.0,
                a, transpose_a ? k : m, b, k, 0.0, c, m);
    return;
  }
#endif
  (void)kernels;
  if (transpose_a)
    Map(c, m, n).noalias() = ConstMap(a, k, m).transpose() * ConstMap(b, k, n);
  else
    Map(c, m, n).noalias() = ConstMap(a, m, k) * ConstMap(b, k, n);
}

}  // namespace exact
}  // namespace qtraj
