// The validating reader (include/qtraj/io/result_reader.hpp) on hostile files, and the format
// qtraj writes: fixed-length strings, fletcher32 on every dataset, format_version; files of format
// 1 (tests/io/format1/, written by qtraj 0.1.0 at d718faa) still read.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <filesystem>

#include "hdf5_tamper.hpp"
#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/io/result_reader.hpp"
#include "scratch_dir.hpp"

namespace qtraj {
namespace {

namespace fs = std::filesystem;
using qtraj::testing::Hdf5Edit;

const fs::path kFormat1 = fs::path(QTRAJ_SOURCE_DIR) / "tests" / "io" / "format1";

struct ReaderTest : ::testing::Test {
  qtraj::testing::ScratchDir dir{"qtraj_reader_test"};
  std::string path(const std::string& name) const { return (dir.path / name).string(); }

  // A small result as the solvers write it (2 domains, 3 times, a jump record dataset).
  std::string written(const std::string& name) {
    const RunConfig config =
        parse_run_config("[system]\ndomains = [3, 2]\n[time]\nend = 1.0\npoints = 3\n");
    Result r;
    r.solver = "exact";
    r.time = {0.0, 0.5, 1.0};
    r.resize(3, 2);
    for (std::size_t t = 0; t < 3; ++t)
      for (std::size_t i = 0; i < 2; ++i) r.jz_over_n_mean(t, i) = 0.1 * t - 0.2 * i;
    layout::add(r, layout::jumps_time, {5000}, std::vector<double>(5000, 0.25));  // deflated
    layout::set(r, layout::attr::exact_steps, std::int64_t{12});
    const std::string p = path(name);
    write_result(p, r, config);
    return p;
  }
};

// One line that names the file and the dataset or attribute.
void expect_refusal(const std::function<void()>& f, const std::string& file,
                    const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "accepted; expected a refusal naming " << needle;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(file, 0), 0u) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST_F(ReaderTest, WritesFormat2FixedLengthStringsAndChecksummedDatasets) {
  const std::string p = written("r.h5");
  const StoredResult s = read_result(p);
  EXPECT_EQ(s.format_version, layout::kFormatVersion);
  EXPECT_EQ(s.result.attributes.count("format_version"), 0u);  // taken out like qtraj_version
  EXPECT_EQ(s.domains, (std::vector<long long>{3, 2}));
  hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  int strings = 0, datasets = 0;
  auto attr_visit = [](hid_t loc, const char* name, const H5A_info_t*, void* data) -> herr_t {
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    if (H5Tget_class(t) == H5T_STRING) {
      ++*static_cast<int*>(data);
      EXPECT_EQ(H5Tis_variable_str(t), 0) << name;
    }
    H5Tclose(t);
    H5Aclose(a);
    return 0;
  };
  H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, attr_visit, &strings);
  EXPECT_GE(strings, 4);  // solver, config, qtraj_version, initial
  for (const char* d : {"/time", "/jz_over_n/mean", "/jz_over_n/stderr", "/excitations/mean",
                        "/excitations/stderr", "/jumps/time"}) {
    hid_t set = H5Dopen2(f, d, H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(set);
    bool fletcher = false;
    for (int k = 0; k < H5Pget_nfilters(dcpl); ++k)
      fletcher |= H5Pget_filter2(dcpl, k, nullptr, nullptr, nullptr, 0, nullptr, nullptr) ==
                  H5Z_FILTER_FLETCHER32;
    EXPECT_TRUE(fletcher) << d;
    hid_t desc = H5Aopen(set, "description", H5P_DEFAULT);
    hid_t t = H5Aget_type(desc);
    EXPECT_EQ(H5Tis_variable_str(t), 0) << d;
    H5Tclose(t);
    H5Aclose(desc);
    H5Pclose(dcpl);
    H5Dclose(set);
    ++datasets;
  }
  EXPECT_EQ(datasets, 6);
  H5Fclose(f);
}

TEST_F(ReaderTest, Format1FilesOfEarlierVersionsAreStillRead) {
  for (const char* name : {"exact.h5", "shard_a.h5", "merged.h5"}) {
    const StoredResult s = read_result((kFormat1 / name).string());
    EXPECT_EQ(s.format_version, 1) << name;
    EXPECT_EQ(s.qtraj_version, "0.1.0") << name;
    EXPECT_EQ(s.domains, (std::vector<long long>{2, 1})) << name;
    EXPECT_EQ(s.result.time.size(), 5u) << name;
    EXPECT_FALSE(s.config_text.empty()) << name;
    EXPECT_DOUBLE_EQ(s.result.jz_over_n_mean(0, 0), 0.5) << name;
  }
}

// A format-1 file whose global heap was damaged so that libhdf5 1.10 loops forever reading its
// variable-length strings (found by fuzzing, tests/fuzz/merge/): refused once the reading child
// runs past its 10 s, this process untouched.
TEST_F(ReaderTest, ADamagedFormat1HeapIsRefusedNotHung) {
  const std::string p =
      (fs::path(QTRAJ_SOURCE_DIR) / "tests" / "fuzz" / "merge" / "timeout-format1-heap-loop.h5").string();
  const auto start = std::chrono::steady_clock::now();
  expect_refusal([&] { read_result(p); }, p,
                 "the file's variable-length strings (format 1) are damaged");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 60.0);
}

TEST_F(ReaderTest, ALaterFormatIsRefusedNamingIt) {
  const std::string p = written("later.h5");
  Hdf5Edit(p).int_attribute("format_version", 3);
  expect_refusal([&] { read_result(p); }, p, "/@format_version: this qtraj reads formats 1 to 2");
}

TEST_F(ReaderTest, AFifoIsRefusedWithoutBlocking) {
  const std::string p = path("fifo.h5");
  ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0);
  // In a child, so that a reader that blocks is killed by the alarm rather than hanging the suite.
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(10);
    try {
      read_result(p);
    } catch (const IoError& e) {
      ::_exit(std::string(e.what()).find("a FIFO") != std::string::npos ? 0 : 3);
    } catch (...) {
      ::_exit(4);
    }
    ::_exit(5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the reader blocked on a FIFO (killed by the alarm)";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  expect_refusal([&] { read_result(dir.path.string()); }, dir.path.string(), "a directory");
}

TEST_F(ReaderTest, DeclaredSizesBeyondWhatTheFileStoresAreRefusedBeforeAllocating) {
  const std::string p = written("huge.h5");
  Hdf5Edit(p).declared_only("/time", {400000000});  // 3.2 GB declared, nothing stored
  EXPECT_LT(fs::file_size(p), 100000u);
  const auto start = std::chrono::steady_clock::now();
  expect_refusal([&] { read_result(p); }, p, "/time: declares 3200000000 bytes");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0);
  // A written but impossible dataset: as many doubles as the tables need, but with a NaN.
  const std::string q = written("nan.h5");
  std::vector<double> values(6, 0.0);
  values[3] = std::nan("");
  Hdf5Edit(q).dataset("/jz_over_n/mean", {3, 2}, values);
  expect_refusal([&] { read_result(q); }, q, "/jz_over_n/mean: value 3 must be finite");
}

TEST_F(ReaderTest, WrongTypesAndShapesNameTheDataset) {
  const std::string p = written("types.h5");
  Hdf5Edit(p).dataset("/jz_over_n/mean", {3, 2}, std::vector<std::int64_t>(6, 1));
  expect_refusal([&] { read_result(p); }, p, "/jz_over_n/mean: must be floating-point");
  const std::string q = written("shape.h5");
  Hdf5Edit(q).dataset("/excitations/mean", {2, 3}, std::vector<double>(6, 1.0));
  expect_refusal([&] { read_result(q); }, q, "/excitations/mean: has the wrong shape, expected 3x2");
  const std::string r = written("domains.h5");
  Hdf5Edit(r).remove_attribute("domains");
  {
    Hdf5Edit e(r);
    const hsize_t n = 3;
    const std::int64_t three[3] = {1, 2, 3};
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t a = H5Acreate2(e.id(), "domains", H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, three);
    H5Aclose(a);
    H5Sclose(space);
  }
  expect_refusal([&] { read_result(r); }, r, "/jz_over_n/mean: has the wrong shape, expected 3x3");
}

TEST_F(ReaderTest, LinksToElsewhereAreRefused) {
  const std::string p = written("links.h5");
  const std::string other = written("other.h5");
  {
    Hdf5Edit e(p);
    e.remove_dataset("/jz_over_n/stderr");
    ASSERT_GE(H5Lcreate_external(other.c_str(), "/jz_over_n/stderr", e.id(), "/jz_over_n/stderr",
                                 H5P_DEFAULT, H5P_DEFAULT), 0);
  }
  expect_refusal([&] { read_result(p); }, p, "/jz_over_n/stderr: is a soft or external link");
}

TEST_F(ReaderTest, TenThousandRootAttributesReadInLinearTime) {
  const std::string p = written("attrs.h5");
  {
    Hdf5Edit e(p);
    for (int k = 0; k < 10000; ++k) e.int_attribute("extra_" + std::to_string(k), k);
  }
  const auto start = std::chrono::steady_clock::now();
  const StoredResult s = read_result(p);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(std::get<std::int64_t>(s.result.attributes.at("extra_9999")), 9999);
  EXPECT_GE(s.result.attributes.size(), 10000u);
  EXPECT_LT(seconds, 3.0) << "10,000 root attributes took " << seconds << " s";
}

TEST_F(ReaderTest, DamagedDatasetBytesAreAnErrorNamingFileAndDataset) {
  const std::string p = written("damaged.h5");
  // The bytes of /jz_over_n/mean's one chunk: 0.1 * t - 0.2 * i for t = 2, i = 1 is -0.0 + ...;
  // find the chunk through HDF5 and flip a byte inside it.
  haddr_t offset = 0;
  {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t set = H5Dopen2(f, "/jz_over_n/mean", H5P_DEFAULT);
    const hsize_t origin[2] = {0, 0};
    unsigned mask = 0;
    hsize_t size = 0;
    ASSERT_GE(H5Dget_chunk_storage_size(set, origin, &size), 0);
    hid_t space = H5Dget_space(set);
    ASSERT_GE(H5Dget_chunk_info(set, space, 0, nullptr, &mask, &offset, &size), 0);
    H5Sclose(space);
    H5Dclose(set);
    H5Fclose(f);
  }
  auto bytes = qtraj::testing::file_bytes(p);
  bytes.at(offset + 8) ^= 0x40;
  qtraj::testing::write_bytes(p, bytes);
  expect_refusal([&] { read_result(p); }, p, "/jz_over_n/mean: HDF5 could not read the values");
}

// Fixed-length strings beyond an object header message's 64 kB (HDF5 moves them to dense
// attribute storage, which format 2 allows) and the empty string.
TEST_F(ReaderTest, LargeAndEmptyStringAttributesRoundTrip) {
  const RunConfig config = parse_run_config("[system]\ndomains = [1]\n");
  Result r;
  r.solver = "exact";
  r.time = {0.0};
  r.resize(1, 1);
  const std::string big(200000, 'x');
  r.attributes["note"] = big;
  r.attributes["empty"] = std::string();
  const std::string p = path("strings.h5");
  write_result(p, r, config);
  const StoredResult s = read_result(p);
  EXPECT_EQ(std::get<std::string>(s.result.attributes.at("note")), big);
  EXPECT_EQ(std::get<std::string>(s.result.attributes.at("empty")), "");
}

}  // namespace
}  // namespace qtraj
