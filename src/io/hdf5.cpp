// HDF5 output through the C API (the reader: src/io/result_reader.cpp). Layout:
// include/qtraj/io/layout.hpp; the format (checksums, fixed-length strings): README.md, HDF5 layout.
#include "qtraj/io/hdf5.hpp"

#include <hdf5.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <type_traits>

#include "qtraj/error.hpp"
#include "qtraj/io/layout.hpp"
#include "io/hdf5_handle.hpp"

namespace qtraj {
namespace {

using io_detail::check;
using io_detail::Handle;
using io_detail::QuietHdf5;

void write_string_attribute(hid_t target, const std::string& name, const std::string& value) {
  // Fixed-length (size + 1 bytes, NUL-terminated): a variable-length string lives in the file's
  // global heap, which libhdf5 reads without checks (a damaged heap crashed it); a fixed-length
  // one is part of the checksummed object header.
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(type.get(), value.size() + 1), "string size");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), "string padding");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string charset");
  Handle space(H5Screate(H5S_SCALAR), H5Sclose, "scalar space");
  Handle attr(H5Acreate2(target, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, "attribute " + name);
  check(H5Awrite(attr.get(), type.get(), value.c_str()), "write attribute " + name);
}

template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else return H5T_NATIVE_INT64;
}

template <class T>
void write_array_attribute(hid_t target, const std::string& name, const std::vector<T>& values,
                           bool scalar = false) {
  const hsize_t n = values.size();
  Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose,
               "attribute space");
  Handle attr(H5Acreate2(target, name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT,
                         H5P_DEFAULT),
              H5Aclose, "attribute " + name);
  check(H5Awrite(attr.get(), native_type<T>(), values.data()), "write attribute " + name);
}

void write_attribute(hid_t target, const std::string& name, const AttributeValue& value) {
  std::visit(
      [&](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string>) write_string_attribute(target, name, v);
        else if constexpr (std::is_same_v<V, double> || std::is_same_v<V, std::int64_t>)
          write_array_attribute(target, name, std::vector<V>{v}, true);
        else write_array_attribute(target, name, v);
      },
      value);
}

template <class T>
void write_dataset(hid_t file, const std::string& path, const std::vector<std::uint64_t>& shape,
                   const std::vector<T>& values, const std::map<std::string, std::string>& attrs) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  if (total != values.size()) throw IoError("HDF5: dataset " + path + " has the wrong size");
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose, "link property list");
  check(H5Pset_create_intermediate_group(lcpl.get(), 1), "intermediate groups");
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose,
               "dataspace of " + path);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "dataset property list");
  // Every dataset with values is chunked and carries HDF5's fletcher32 checksum per chunk (added
  // last, so it covers the stored bytes: a damaged chunk is refused before it is inflated);
  // large ones (jump records, populations) are also compressed (deflate). Small ones are one chunk.
  if (total > 0 && !dims.empty()) {
    std::vector<hsize_t> chunk(dims);
    if (total > 4096)
      chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], 65536 / std::max<hsize_t>(1, total / dims[0])));
    check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "chunking");
    if (total > 4096) check(H5Pset_deflate(dcpl.get(), 4), "deflate");
    check(H5Pset_fletcher32(dcpl.get()), "fletcher32");
  }
  Handle set(H5Dcreate2(file, path.c_str(), native_type<T>(), space.get(), lcpl.get(), dcpl.get(),
                        H5P_DEFAULT),
             H5Dclose, "create dataset " + path);
  if (total > 0)
    check(H5Dwrite(set.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
          "write dataset " + path);
  for (const auto& [k, v] : attrs) write_string_attribute(set.get(), k, v);
}

// Temporary files are named PATH.tmp-HOST-PID: the file is written there and renamed into place,
// so PATH is never half-written. A writer killed by SIGKILL (or a node failure) leaves its
// temporary behind; remove_stale_temporaries deletes those of this host whose process is gone.
// Only this host's names are touched: on a shared file system another node's pid means nothing here.
std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string host(buf);
  for (char& c : host)
    if (c == '/' || c == '-') c = '_';  // '-' separates the pid
  return host;
}

std::string temp_prefix_for(const std::string& path) { return path + ".tmp-" + host_name() + "-"; }

std::string temp_path_for(const std::string& path) {
  return temp_prefix_for(path) + std::to_string(::getpid());
}

}  // namespace

std::string temporary_path(const std::string& path) { return temp_path_for(path); }

int remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string prefix = fs::path(temp_prefix_for(path)).filename().string();
  int removed = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    if (fs::remove(it->path(), ec)) ++removed;
  }
  return removed;
}

namespace {

}  // namespace

void check_output_writable(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError("output.path", "\"" + path + "\"", "is a directory; give a file name");
  const std::string probe = temp_path_for(path);
  {
    std::ofstream out(probe, std::ios::binary);
    if (!out) throw InputError("output.path", "\"" + path + "\"", "cannot be written");
  }
  std::remove(probe.c_str());
}

void write_result(const std::string& path, const Result& result, const RunConfig& config) {
  remove_stale_temporaries(path);
  const std::string tmp = temp_path_for(path);
  try {
    {
      const QuietHdf5 quiet;
      // The HDF5 1.10 file format: superblock, object headers and chunk indices carry checksums
      // (the 1.8 default's version-0 structures have none), so damaged metadata is an error
      // rather than garbage. Readable by HDF5 >= 1.10 (h5py included).
      Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "file access property list");
      check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110), "format bounds");
      Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose,
                  "cannot create " + tmp);
      const hid_t f = file.get();
      auto write = [&](const Dataset& d) {
        std::visit([&](const auto& v) { write_dataset(f, d.path, d.shape, v, d.attributes); },
                   d.values);
      };
      for (const auto& d : layout::contract_datasets(result)) write(d);
      for (const auto& d : result.extra) write(d);
      Handle root(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose, "open root group");
      for (const auto& [name, value] : layout::contract_attributes(result, config))
        write_attribute(root.get(), name, value);
      for (const auto& [name, value] : result.attributes) write_attribute(root.get(), name, value);
      check(H5Fflush(f, H5F_SCOPE_GLOBAL), "flush");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw IoError(path + ": cannot move the finished file into place");
  } catch (const IoError& e) {
    std::remove(tmp.c_str());
    const std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    throw IoError(path + ": " + what);  // every message names the file
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

}  // namespace qtraj
