// HDF5 output and input through the C API. Layout: include/qtraj/io/layout.hpp.
#include "qtraj/io/hdf5.hpp"

#include <hdf5.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <type_traits>

#include "qtraj/error.hpp"
#include "qtraj/io/layout.hpp"

namespace qtraj {
namespace {

// RAII for HDF5 identifiers.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
    if (id_ < 0) throw IoError("HDF5: " + what);
  }
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

void check(herr_t status, const std::string& what) {
  if (status < 0) throw IoError("HDF5: " + what);
}

// Every qtraj call into HDF5 runs inside one QuietHdf5, declared before the call's first Handle
// (so the handles close inside it too):
//  - it holds one library-wide lock: an HDF5 built without thread safety (H5is_library_threadsafe
//    false) must never be entered by two threads at once, and two solves in two threads (their
//    checkpoints, their results) may both write; a thread-safe build (Debian's) serialises its
//    API calls internally anyway, so the lock costs nothing there;
//  - it silences HDF5's automatic error-stack printing (we report one line ourselves) and
//    restores the handler it found when it ends, so the caller's own HDF5 use (e.g. h5py in the
//    same process) keeps its error reports. Not reentrant: a QuietHdf5 never encloses another.
class QuietHdf5 {
 public:
  QuietHdf5() : lock_(mutex()) {
    saved_ = H5Eget_auto2(H5E_DEFAULT, &func_, &data_) >= 0;
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() {
    if (saved_) H5Eset_auto2(H5E_DEFAULT, func_, data_);
  }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  std::lock_guard<std::mutex> lock_;
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
  bool saved_ = false;
};

void write_string_attribute(hid_t target, const std::string& name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), "string size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string charset");
  Handle space(H5Screate(H5S_SCALAR), H5Sclose, "scalar space");
  Handle attr(H5Acreate2(target, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, "attribute " + name);
  const char* ptr = value.c_str();
  check(H5Awrite(attr.get(), type.get(), &ptr), "write attribute " + name);
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
  // Compress large datasets (jump records, populations): chunked + deflate.
  if (total > 4096 && !dims.empty()) {
    std::vector<hsize_t> chunk(dims);
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], 65536 / std::max<hsize_t>(1, total / dims[0])));
    check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "chunking");
    check(H5Pset_deflate(dcpl.get(), 4), "deflate");
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
      Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose,
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
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

namespace {

bool exists(hid_t file, const std::string& path) {
  // Check each link along the path, as H5Lexists requires.
  std::size_t pos = 0;
  while ((pos = path.find('/', pos + 1)) != std::string::npos)
    if (H5Lexists(file, path.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
  return H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0;
}

// Reads a dataset of an open file: integer classes as int64, everything else as double.
Dataset read_dataset_at(hid_t file, const std::string& path) {
  Handle set(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose, "open dataset " + path);
  Handle type(H5Dget_type(set.get()), H5Tclose, "type of " + path);
  Handle space(H5Dget_space(set.get()), H5Sclose, "dataspace of " + path);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  Dataset out;
  out.path = path;
  out.shape.assign(dims.begin(), dims.end());
  auto read_as = [&](auto zero, hid_t mem_type) {
    std::vector<decltype(zero)> v(total);
    if (total > 0)
      check(H5Dread(set.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read " + path);
    out.values = std::move(v);
  };
  if (H5Tget_class(type.get()) == H5T_INTEGER) read_as(std::int64_t{0}, H5T_NATIVE_INT64);
  else read_as(0.0, H5T_NATIVE_DOUBLE);
  return out;
}

std::vector<double> read_doubles(hid_t file, const std::string& path, std::vector<hsize_t>* dims) {
  Dataset d = read_dataset_at(file, path);
  if (dims) dims->assign(d.shape.begin(), d.shape.end());
  if (auto* v = std::get_if<std::vector<double>>(&d.values)) return std::move(*v);
  const auto& ints = std::get<std::vector<std::int64_t>>(d.values);
  return std::vector<double>(ints.begin(), ints.end());
}

Table read_table(hid_t file, const std::string& path) {
  std::vector<hsize_t> dims;
  Table t;
  t.data = read_doubles(file, path, &dims);
  if (dims.size() != 2) throw IoError("HDF5: " + path + " is not a 2-D table");
  t.rows = dims[0];
  t.cols = dims[1];
  return t;
}

bool read_attribute(hid_t obj, const std::string& name, AttributeValue* out) {
  if (H5Aexists(obj, name.c_str()) <= 0) return false;
  Handle attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "open attribute " + name);
  Handle type(H5Aget_type(attr.get()), H5Tclose, "attribute type");
  Handle space(H5Aget_space(attr.get()), H5Sclose, "attribute space");
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  const bool scalar = H5Sget_simple_extent_type(space.get()) == H5S_SCALAR;
  if (n < 1) return false;  // empty attributes carry nothing to show
  switch (H5Tget_class(type.get())) {
    case H5T_STRING: {
      if (n != 1) return false;  // string arrays (e.g. written by h5py) are not ours: skip them
      if (H5Tis_variable_str(type.get()) > 0) {
        char* ptr = nullptr;  // the file type (with its charset) doubles as the memory type
        check(H5Aread(attr.get(), type.get(), &ptr), "read attribute " + name);
        *out = std::string(ptr ? ptr : "");
        H5free_memory(ptr);
      } else {
        std::string s(H5Tget_size(type.get()), '\0');
        check(H5Aread(attr.get(), type.get(), s.data()), "read attribute " + name);
        *out = std::string(s.c_str());
      }
      return true;
    }
    case H5T_INTEGER: {
      std::vector<std::int64_t> v(n);
      check(H5Aread(attr.get(), H5T_NATIVE_INT64, v.data()), "read attribute " + name);
      if (scalar) *out = v.at(0); else *out = v;
      return true;
    }
    case H5T_FLOAT: {
      std::vector<double> v(n);
      check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, v.data()), "read attribute " + name);
      if (scalar) *out = v.at(0); else *out = v;
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

bool read_dataset(const std::string& file_path, const std::string& dataset_path, Dataset* out) {
  const QuietHdf5 quiet;
  if (H5Fis_hdf5(file_path.c_str()) <= 0) throw IoError(file_path + ": not a readable HDF5 file");
  Handle file(H5Fopen(file_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose,
              "cannot open " + file_path);
  if (!exists(file.get(), dataset_path)) return false;
  *out = read_dataset_at(file.get(), dataset_path);
  return true;
}

StoredResult read_result(const std::string& path) {
  const QuietHdf5 quiet;
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw IoError(path + ": not a readable HDF5 file");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "cannot open " + path);
  const hid_t f = file.get();
  StoredResult s;
  namespace L = layout;
  for (const L::Entry* needed : {&L::time, &L::jz_over_n_mean})
    if (!exists(f, needed->name()))
      throw IoError(path + ": no dataset " + needed->name() + " (not a qtraj result?)");
  s.result.time = read_doubles(f, L::time.name(), nullptr);
  s.result.jz_over_n_mean = read_table(f, L::jz_over_n_mean.name());
  const auto zeros = Table(s.result.jz_over_n_mean.rows, s.result.jz_over_n_mean.cols);
  const std::pair<const L::Entry*, Table*> tables[] = {
      {&L::jz_over_n_mean, &s.result.jz_over_n_mean},
      {&L::jz_over_n_stderr, &s.result.jz_over_n_stderr},
      {&L::excitations_mean, &s.result.excitations_mean},
      {&L::excitations_stderr, &s.result.excitations_stderr}};
  for (const auto& [entry, table] : tables)
    if (entry != &L::jz_over_n_mean)
      *table = exists(f, entry->name()) ? read_table(f, entry->name()) : zeros;
  // Every table must be n_t x M, as /time and /jz_over_n/mean say.
  const std::size_t n_t = s.result.time.size(), n_dom = s.result.jz_over_n_mean.cols;
  for (const auto& [entry, table] : tables)
    if (table->rows != n_t || table->cols != n_dom)
      throw IoError(path + ": " + entry->name() + " has shape " + std::to_string(table->rows) + "x" +
                    std::to_string(table->cols) + ", expected " + std::to_string(n_t) + "x" +
                    std::to_string(n_dom) + " (time x domain)");
  Handle root(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose, "open root group");
  const int n_attr = static_cast<int>(H5Aget_num_attrs(root.get()));
  for (int a = 0; a < n_attr; ++a) {
    char name[256] = {0};
    Handle attr(H5Aopen_by_idx(root.get(), ".", H5_INDEX_NAME, H5_ITER_INC, a, H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose, "attribute");
    H5Aget_name(attr.get(), sizeof(name), name);
    AttributeValue v;
    if (read_attribute(root.get(), name, &v)) s.result.attributes[name] = v;
  }
  auto take_string = [&](const std::string& key) -> std::string {
    auto it = s.result.attributes.find(key);
    if (it == s.result.attributes.end() || !std::holds_alternative<std::string>(it->second)) return "";
    std::string v = std::get<std::string>(it->second);
    s.result.attributes.erase(it);
    return v;
  };
  s.result.solver = take_string(L::attr::solver.name());
  s.config_text = take_string(L::attr::config.name());
  s.qtraj_version = take_string(L::attr::qtraj_version.name());
  if (auto it = s.result.attributes.find(L::attr::domains.name()); it != s.result.attributes.end()) {
    if (auto* v = std::get_if<std::vector<std::int64_t>>(&it->second))
      s.domains.assign(v->begin(), v->end());
    else if (auto* x = std::get_if<std::int64_t>(&it->second))
      s.domains = {*x};
    s.result.attributes.erase(it);
  }
  return s;
}

}  // namespace qtraj
