#pragma once
// Test helpers that damage HDF5 files the way a hostile or broken file would be: attributes and
// datasets replaced (wrong type, wrong shape, impossible values), datasets that declare more than
// the file holds, bytes flipped at random (fixed seeds). Every helper aborts the test on an HDF5
// failure of its own.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace qtraj::testing {

class Hdf5Edit {
 public:
  explicit Hdf5Edit(const std::string& path) : file_(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {
    EXPECT_GE(file_, 0) << path;
  }
  ~Hdf5Edit() {
    if (file_ >= 0) H5Fclose(file_);
  }
  Hdf5Edit(const Hdf5Edit&) = delete;
  Hdf5Edit& operator=(const Hdf5Edit&) = delete;

  void int_attribute(const std::string& name, std::int64_t value) {
    scalar_attribute(name, H5T_NATIVE_INT64, &value);
  }
  void double_attribute(const std::string& name, double value) {
    scalar_attribute(name, H5T_NATIVE_DOUBLE, &value);
  }
  void string_attribute(const std::string& name, const std::string& value, bool variable = false) {
    remove_attribute(name);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, variable ? H5T_VARIABLE : value.size() + 1);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(file_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(attr, 0) << name;
    const char* ptr = value.c_str();
    EXPECT_GE(variable ? H5Awrite(attr, type, &ptr) : H5Awrite(attr, type, value.c_str()), 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
  }
  void remove_attribute(const std::string& name) {
    if (H5Aexists(file_, name.c_str()) > 0) EXPECT_GE(H5Adelete(file_, name.c_str()), 0) << name;
  }

  /// Replaces (or creates) `path` with a contiguous dataset of `dims` holding `values`.
  template <class T>
  void dataset(const std::string& path, const std::vector<hsize_t>& dims, const std::vector<T>& values) {
    remove_dataset(path);
    const hid_t type = std::is_same_v<T, double> ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const hid_t set = H5Dcreate2(file_, path.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(set, 0) << path;
    if (!values.empty())
      EXPECT_GE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0) << path;
    H5Dclose(set);
    H5Pclose(lcpl);
    H5Sclose(space);
  }
  /// Replaces `path` with a dataset of `dims` doubles whose storage is never written (a few
  /// bytes of metadata declaring any size).
  void declared_only(const std::string& path, const std::vector<hsize_t>& dims) {
    remove_dataset(path);
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE);
    const hid_t set = H5Dcreate2(file_, path.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, dcpl,
                                 H5P_DEFAULT);
    EXPECT_GE(set, 0) << path;
    H5Dclose(set);
    H5Pclose(dcpl);
    H5Sclose(space);
  }
  void remove_dataset(const std::string& path) {
    if (H5Lexists(file_, path.c_str(), H5P_DEFAULT) > 0)
      EXPECT_GE(H5Ldelete(file_, path.c_str(), H5P_DEFAULT), 0) << path;
  }
  hid_t id() const { return file_; }

 private:
  void scalar_attribute(const std::string& name, hid_t type, const void* value) {
    remove_attribute(name);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(file_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(attr, 0) << name;
    EXPECT_GE(H5Awrite(attr, type, value), 0) << name;
    H5Aclose(attr);
    H5Sclose(space);
  }
  hid_t file_;
};

inline std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// `original` with `flips` bytes at positions drawn from mt19937(seed), each XORed with a
/// non-zero value from the same stream.
inline std::vector<char> flipped(const std::vector<char>& original, unsigned seed, int flips) {
  std::vector<char> bytes = original;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> pos(0, bytes.size() - 1);
  std::uniform_int_distribution<int> mask(1, 255);
  for (int k = 0; k < flips; ++k) bytes[pos(rng)] ^= static_cast<char>(mask(rng));
  return bytes;
}

}  // namespace qtraj::testing
