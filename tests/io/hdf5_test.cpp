// HDF5 layout contract: write -> read back, atomic replace, clear errors on unwritable paths.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "scratch_dir.hpp"

namespace qtraj {
namespace {

namespace fs = std::filesystem;

struct TempDir : qtraj::testing::ScratchDir {
  TempDir() : ScratchDir("qtraj_h5_test") {}
};

RunConfig small_config() {
  return parse_run_config("[system]\ndomains = [3, 2]\ninitial = [\"excited\", \"ground\"]\n");
}

Result small_result() {
  Result r;
  r.solver = "trajectories";
  r.time = {0.0, 0.5, 1.0};
  r.resize(3, 2);
  for (std::size_t t = 0; t < 3; ++t)
    for (std::size_t i = 0; i < 2; ++i) {
      r.jz_over_n_mean(t, i) = 0.1 * t - 0.2 * i;
      r.jz_over_n_stderr(t, i) = 0.01 * (t + i);
      r.excitations_mean(t, i) = 1.0 + t + i;
    }
  r.extra.push_back(Dataset{"/jumps/time", {4}, std::vector<double>{0.1, 0.2, 0.3, 0.4},
                            {{"description", "jump times"}}});
  r.extra.push_back(Dataset{"/jump_counts/histogram", {1, 3}, std::vector<std::int64_t>{5, 6, 7}, {}});
  r.attributes["trajectories"] = std::int64_t{1000};
  r.attributes["propagator"] = std::string("spectral");
  return r;
}

TEST(Hdf5Io, RoundTripsTheContractLayout) {
  TempDir dir;
  const std::string path = (dir.path / "r.h5").string();
  const RunConfig config = small_config();
  write_result(path, small_result(), config);
  const StoredResult s = read_result(path);
  EXPECT_EQ(s.result.solver, "trajectories");
  EXPECT_EQ(s.config_text, config.text);
  EXPECT_FALSE(s.qtraj_version.empty());
  EXPECT_EQ(s.domains, (std::vector<long long>{3, 2}));
  EXPECT_EQ(s.result.time, (std::vector<double>{0.0, 0.5, 1.0}));
  const Result expected = small_result();
  EXPECT_EQ(s.result.jz_over_n_mean.data, expected.jz_over_n_mean.data);
  EXPECT_EQ(s.result.jz_over_n_stderr.data, expected.jz_over_n_stderr.data);
  EXPECT_EQ(s.result.excitations_mean.data, expected.excitations_mean.data);
  EXPECT_EQ(s.result.jz_over_n_mean.rows, 3u);
  EXPECT_EQ(s.result.jz_over_n_mean.cols, 2u);
  ASSERT_TRUE(s.result.attributes.count("trajectories"));
  EXPECT_EQ(std::get<std::int64_t>(s.result.attributes.at("trajectories")), 1000);
  EXPECT_EQ(std::get<std::string>(s.result.attributes.at("propagator")), "spectral");
  // Only the finished file is left: no temporary next to it.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);
}

TEST(Hdf5Io, ReplacesAnExistingFileAtomically) {
  TempDir dir;
  const std::string path = (dir.path / "r.h5").string();
  write_result(path, small_result(), small_config());
  Result second = small_result();
  second.solver = "exact";
  write_result(path, second, small_config());
  EXPECT_EQ(read_result(path).result.solver, "exact");
}

TEST(Hdf5Io, UnwritablePathIsAnInputErrorAndWritesNothing) {
  TempDir dir;
  const std::string path = (dir.path / "missing" / "r.h5").string();
  EXPECT_THROW(check_output_writable(path), InputError);
  EXPECT_THROW(write_result(path, small_result(), small_config()), IoError);
  EXPECT_FALSE(fs::exists(dir.path / "missing"));
}

// A writer killed mid-write (SIGKILL) leaves PATH.tmp-HOST-PID behind; the next write of PATH
// removes it when that pid is gone, and leaves live writers' and other hosts' temporaries alone.
TEST(Hdf5Io, StaleTemporariesOfDeadWritersAreRemoved) {
  TempDir dir;
  const std::string path = (dir.path / "r.h5").string();
  char host[256] = {0};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  std::string h(host);
  for (char& c : h)
    if (c == '/' || c == '-') c = '_';
  // A child that has exited and been reaped: its pid is free (reuse within the test is not a
  // concern: a reused pid would only keep the file, never delete a live writer's).
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  const fs::path dead = path + ".tmp-" + h + "-" + std::to_string(child);
  const fs::path live = path + ".tmp-" + h + "-" + std::to_string(::getppid());
  const fs::path other_host = path + ".tmp-otherhost-" + std::to_string(child);
  const fs::path unrelated = (dir.path / "s.h5.tmp-").string() + h + "-" + std::to_string(child);
  for (const auto& p : {dead, live, other_host, unrelated}) std::ofstream(p) << "partial";
  write_result(path, small_result(), small_config());
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other_host));
  EXPECT_TRUE(fs::exists(unrelated));
  EXPECT_EQ(remove_stale_temporaries(path), 0);
  EXPECT_EQ(read_result(path).result.solver, "trajectories");
}

// Files written by other programs: a string-array attribute (h5py writes these) is skipped,
// tables whose shape does not match /time are an IoError (both crashed or read garbage before).
TEST(Hdf5Io, ForeignFilesAreReadSafely) {
  TempDir dir;
  const std::string path = (dir.path / "foreign.h5").string();
  write_result(path, small_result(), small_config());
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hsize_t n = 64;
    hid_t space = H5Screate_simple(1, &n, nullptr);
    std::vector<const char*> words(n, "word");
    hid_t attr = H5Acreate2(root, "labels", type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, words.data());
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    H5Gclose(root);
    H5Fclose(f);
  }
  EXPECT_EQ(read_result(path).result.solver, "trajectories");
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/jz_over_n/stderr", H5P_DEFAULT);
    const hsize_t dims[2] = {1, 1};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t set = H5Dcreate2(f, "/jz_over_n/stderr", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT,
                           H5P_DEFAULT, H5P_DEFAULT);
    const double zero = 0.0;
    H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero);
    H5Dclose(set);
    H5Sclose(space);
    H5Fclose(f);
  }
  try {
    read_result(path);
    FAIL() << "no error for a 1x1 /jz_over_n/stderr";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/jz_over_n/stderr: has the wrong shape, expected 3x2"),
              std::string::npos)
        << e.what();
  }
}

TEST(Hdf5Io, ReadingANonResultFails) {
  TempDir dir;
  const std::string path = (dir.path / "not.h5").string();
  { std::FILE* f = std::fopen(path.c_str(), "w"); std::fputs("hello", f); std::fclose(f); }
  EXPECT_THROW(read_result(path), IoError);
  EXPECT_THROW(read_result((dir.path / "absent.h5").string()), IoError);
}

}  // namespace
}  // namespace qtraj
