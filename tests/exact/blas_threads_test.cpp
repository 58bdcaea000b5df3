// OpenBLAS's process-wide state (include/qtraj/exact/dense_kernels.hpp): its kernels are chosen
// once, at program start (initialize_blas; this file does it for the test program, as the CLI's
// main does), and its one thread count is handed out by BlasThreads: holders that want the count
// in force share it, a holder that wants another count waits until the last one is gone.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "qtraj/exact/dense_kernels.hpp"

extern "C" int openblas_get_num_threads(void) __attribute__((weak));

namespace qtraj {
namespace {

using exact::BlasThreads;

// The test program's start: the kernels are chosen before any test runs BLAS.
class BlasEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { exact::initialize_blas(); }
};
const auto* const kBlasEnvironment = ::testing::AddGlobalTestEnvironment(new BlasEnvironment);

// The count OpenBLAS uses now (-1 without OpenBLAS).
int count_in_force() { return openblas_get_num_threads ? openblas_get_num_threads() : -1; }

TEST(BlasThreads, InitializeChoosesTheKernelsOnce) {
  const std::string core = exact::initialize_blas();
  EXPECT_EQ(exact::initialize_blas(), core);
  if (!exact::blas_available()) GTEST_SKIP() << "built without CBLAS";
  EXPECT_FALSE(core.empty());
  const BlasThreads blas(1);
  EXPECT_NE(blas.description().find(core), std::string::npos) << blas.description();
  EXPECT_NE(blas.description().find("1 thread"), std::string::npos) << blas.description();
}

TEST(BlasThreads, HoldersOfOneCountShareItAndAnotherCountWaits) {
  if (!openblas_get_num_threads) GTEST_SKIP() << "not linked with OpenBLAS";
  using namespace std::chrono_literals;
  std::atomic<int> holders_of_one{0};
  std::atomic<bool> a_in{false}, c_shared{false}, b_in{false}, b_saw_ones{false};
  std::atomic<int> a_count{0}, b_count{0}, c_count{0};
  // A holds 1; C asks for 1 while A holds it (and nobody waits): it enters at once.
  std::thread a([&] {
    const BlasThreads blas(1);
    a_count = count_in_force();
    ++holders_of_one;
    a_in = true;
    while (!c_shared) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(100ms);  // B is waiting meanwhile
    --holders_of_one;
  });
  while (!a_in) std::this_thread::sleep_for(1ms);
  std::thread c([&] {
    const BlasThreads blas(1);
    c_count = count_in_force();
    ++holders_of_one;
    c_shared = true;
    std::this_thread::sleep_for(150ms);
    --holders_of_one;
  });
  while (!c_shared) std::this_thread::sleep_for(1ms);
  // B asks for 2 while A and C hold 1: it enters only after both are gone, with 2 in force.
  std::thread b([&] {
    const BlasThreads blas(2);
    b_saw_ones = holders_of_one.load() != 0;
    b_count = count_in_force();
    b_in = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(b_in.load()) << "a holder of another count entered while the count was held";
  a.join();
  c.join();
  b.join();
  EXPECT_EQ(a_count.load(), 1);
  EXPECT_EQ(c_count.load(), 1);
  EXPECT_EQ(b_count.load(), 2);
  EXPECT_FALSE(b_saw_ones.load());
}

// A product large enough for OpenBLAS to split it over its threads.
std::vector<double> product(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  std::vector<double> c(static_cast<std::size_t>(a.rows() * b.cols()));
  exact::multiply(exact::default_dense_kernels(), a.data(), false, static_cast<int>(a.rows()),
                  static_cast<int>(a.cols()), b.data(), static_cast<int>(b.cols()), c.data());
  return c;
}

TEST(BlasThreads, ProductsOfConcurrentHoldersEqualTheSequentialOnes) {
  if (!exact::blas_available()) GTEST_SKIP() << "built without CBLAS";
  const Eigen::MatrixXd a = Eigen::MatrixXd::Random(341, 300), b = Eigen::MatrixXd::Random(300, 341);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(20, 20), y = Eigen::MatrixXd::Random(20, 20);
  std::vector<double> ab, ab_one_thread, xy;
  {
    const BlasThreads blas(2);
    ab = product(a, b);
  }
  {
    const BlasThreads blas(1);
    ab_one_thread = product(a, b);
    xy = product(x, y);
  }
  // Where the count changes the bits (measured on the x86 CPUs here), a product run with the
  // wrong count is caught below.
  if (std::memcmp(ab.data(), ab_one_thread.data(), ab.size() * sizeof(double)) == 0)
    std::printf("note: this CPU's OpenBLAS gives the same bits with 1 and 2 threads here\n");
  // Two threads at once: one makes 5 x 4 large products under BlasThreads(2) held 4 products at a
  // time; the other
  // takes BlasThreads(1) again and again (a small product each time) until the first is done.
  // Every product runs with its holder's count, so each equals the sequential one bit for bit.
  std::atomic<bool> done{false};
  std::atomic<int> differ{0}, small_products{0};
  std::thread large([&] {
    for (int i = 0; i < 5; ++i) {
      const BlasThreads blas(2);
      for (int j = 0; j < 4; ++j)
        if (product(a, b) != ab) ++differ;
    }
    done = true;
  });
  std::thread small([&] {
    while (!done) {
      const BlasThreads blas(1);
      if (product(x, y) != xy) ++differ;
      ++small_products;
    }
  });
  large.join();
  small.join();
  EXPECT_EQ(differ.load(), 0);
  EXPECT_GT(small_products.load(), 0);
}

}  // namespace
}  // namespace qtraj
