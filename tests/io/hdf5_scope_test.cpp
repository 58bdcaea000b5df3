// qtraj's HDF5 calls leave no process-wide trace (src/io/hdf5.cpp, QuietHdf5): HDF5's automatic
// error printing is silenced only inside them and the caller's handler is back afterwards, and
// two threads may write and read results at once (one library lock).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "scratch_dir.hpp"

namespace qtraj {
namespace {

namespace fs = std::filesystem;

struct TempDir : qtraj::testing::ScratchDir {
  TempDir() : ScratchDir("qtraj_h5_scope_test") {}
};

std::atomic<int> g_reports{0};
herr_t count_report(hid_t, void*) {
  ++g_reports;
  return 0;
}

TEST(Hdf5Scope, ErrorPrintingIsSilencedOnlyInsideQtrajCalls) {
  TempDir dir;
  const std::string text = (dir.path / "not.h5").string();
  std::ofstream(text) << "not an HDF5 file\n";
  H5E_auto2_t old_func = nullptr;
  void* old_data = nullptr;
  ASSERT_GE(H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data), 0);
  int marker = 0;
  ASSERT_GE(H5Eset_auto2(H5E_DEFAULT, count_report, &marker), 0);
  g_reports = 0;
  // Inside qtraj: failures become one IoError; HDF5 prints (reports) nothing.
  EXPECT_THROW(read_result(text), IoError);
  Dataset d;
  EXPECT_THROW(read_dataset(text, "/time", &d), IoError);
  EXPECT_THROW(write_result((dir.path / "no" / "dir.h5").string(), Result{},
                            parse_run_config("[system]\ndomains = [2]\n")),
               IoError);
  EXPECT_EQ(g_reports.load(), 0);
  // Afterwards the caller's handler is in place again and reports the caller's own errors.
  H5E_auto2_t func = nullptr;
  void* data = nullptr;
  ASSERT_GE(H5Eget_auto2(H5E_DEFAULT, &func, &data), 0);
  EXPECT_EQ(func, &count_report);
  EXPECT_EQ(data, &marker);
  EXPECT_LT(H5Fopen(text.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), 0);
  EXPECT_GT(g_reports.load(), 0);
  H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
}

TEST(Hdf5Scope, TwoThreadsWriteAndReadResultsAtOnce) {
  TempDir dir;
  const RunConfig config = parse_run_config("[system]\ndomains = [3, 2]\n");
  auto result_for = [](int k, int i) {
    Result r;
    r.solver = "trajectories";
    r.time = {0.0, 0.5, 1.0};
    r.resize(3, 2);
    for (double& v : r.jz_over_n_mean.data) v = 0.01 * k + 0.001 * i;
    r.extra.push_back(Dataset{"/jumps/time", {5000}, std::vector<double>(5000, 1.0 * k + i), {}});
    r.attributes["trajectories"] = std::int64_t{100 * k + i};
    return r;
  };
  std::atomic<int> wrong{0};
  auto work = [&](int k) {
    const std::string path = (dir.path / ("r" + std::to_string(k) + ".h5")).string();
    for (int i = 0; i < 20; ++i) {
      const Result r = result_for(k, i);
      write_result(path, r, config);
      const StoredResult s = read_result(path);
      Dataset jumps;
      if (s.result.jz_over_n_mean.data != r.jz_over_n_mean.data ||
          std::get<std::int64_t>(s.result.attributes.at("trajectories")) != 100 * k + i ||
          !read_dataset(path, "/jumps/time", &jumps) || jumps.values != r.extra[0].values)
        ++wrong;
    }
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace qtraj
