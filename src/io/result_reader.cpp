// The validating reader (include/qtraj/io/result_reader.hpp): ResultFile. On top of it:
// read_result and read_dataset (src/io/stored_result.cpp); the strings of format-1 files are read
// in a child process (src/io/isolated_strings.cpp).
#include "qtraj/io/result_reader.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>

#include "io/hdf5_handle.hpp"
#include "qtraj/error.hpp"
#include "qtraj/io/layout.hpp"

namespace qtraj {

namespace io_detail {

namespace {
herr_t innermost(unsigned, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (e && e->desc && *e->desc) *out = e->desc;  // upward: the innermost comes first
  return out->empty() ? 0 : 1;
}
}  // namespace

std::string hdf5_error_detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &detail);
  // One line whatever HDF5 says.
  for (char& c : detail)
    if (c == '\n' || c == '\r') c = ' ';
  return detail;
}

}  // namespace io_detail

namespace {

using io_detail::Handle;
using io_detail::QuietHdf5;

std::string shape_text(const std::vector<std::uint64_t>& dims) {
  if (dims.empty()) return "scalar";
  std::string s;
  for (std::size_t k = 0; k < dims.size(); ++k)
    s += (k ? "x" : "") + (dims[k] == kAnyExtent ? std::string("*") : std::to_string(dims[k]));
  return s;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Deflate inflates at most ~1032:1; with this margin a declared size beyond it is a lie.
constexpr std::uint64_t kMaxInflation = 1100;
// Strings and attribute arrays beyond these are refused (the largest qtraj writes: the run file).
constexpr std::uint64_t kMaxStringBytes = std::uint64_t{64} << 20;
constexpr std::uint64_t kMaxAttributeElements = std::uint64_t{1} << 24;

}  // namespace

struct ResultFile::Impl {
  QuietHdf5 quiet;  // first: every handle below closes inside it
  std::string path;
  std::uint64_t file_bytes = 0;
  std::optional<Handle> file;
  std::int64_t format = 1;
  std::map<std::string, AttributeValue> attributes;

  [[noreturn]] void refuse(const std::string& what, const std::string& value,
                           const std::string& why) const {
    throw IoError(path + ": " + what + ": " + why + (value.empty() ? "" : " (got " + value + ")"));
  }
  [[noreturn]] void hdf5_failure(const std::string& what, const std::string& action) const {
    const std::string detail = io_detail::hdf5_error_detail();
    throw IoError(path + ": " + what + ": HDF5 could not " + action +
                  (detail.empty() ? std::string() : " (" + detail + ")"));
  }
  void check(herr_t status, const std::string& what, const std::string& action) const {
    if (status < 0) hdf5_failure(what, action);
  }
  Handle handle(hid_t id, herr_t (*close)(hid_t), const std::string& what,
                const std::string& action) const {
    if (id < 0) hdf5_failure(what, action);
    return Handle(id, close, what);
  }

  mutable std::vector<std::string> deferred_strings;  // format 1: variable-length, not yet read

  std::optional<AttributeValue> read_attribute(hid_t attr, const std::string& name) const;
  void read_isolated_strings(hid_t root);
  void read_root_attributes();
  struct Opened;
  void open_dataset(const std::string& name, Opened& o) const;
  template <class T>
  std::vector<T> read_values(const Opened& d, const std::string& name) const;
};

namespace {

// (hid_t is not default-constructible into Handle; std::optional<Handle> needs emplace.)
template <class... A>
void emplace(std::optional<Handle>& h, A&&... a) {
  h.emplace(std::forward<A>(a)...);
}

}  // namespace

std::optional<AttributeValue> ResultFile::Impl::read_attribute(hid_t attr_id,
                                                               const std::string& name) const {
  const std::string what = "/@" + name;
  Handle type = handle(H5Aget_type(attr_id), H5Tclose, what, "read the attribute's type");
  Handle space = handle(H5Aget_space(attr_id), H5Sclose, what, "read the attribute's dataspace");
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  if (space_class != H5S_SCALAR && space_class != H5S_SIMPLE) return std::nullopt;
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) hdf5_failure(what, "read the attribute's size");
  if (n < 1) return std::nullopt;  // empty attributes carry nothing to show
  if (static_cast<std::uint64_t>(n) > kMaxAttributeElements)
    refuse(what, std::to_string(n) + " elements", "is larger than any attribute qtraj writes");
  const bool scalar = space_class == H5S_SCALAR;
  const std::size_t type_size = H5Tget_size(type.get());
  switch (H5Tget_class(type.get())) {
    case H5T_STRING: {
      if (n != 1) return std::nullopt;  // string arrays (e.g. written by h5py) are not ours
      const htri_t variable = H5Tis_variable_str(type.get());
      if (variable < 0) hdf5_failure(what, "read the attribute's type");
      if (variable > 0) {
        // Variable-length strings live in the global heap, which libhdf5 1.10 reads without
        // checks (a damaged heap object crashes it): only files of format 1 (which wrote them)
        // have them read, after the pass, in a child process (read_isolated_strings); in later
        // files they are foreign and skipped.
        if (format == 1) deferred_strings.push_back(name);
        return std::nullopt;
      }
      if (type_size == 0 || type_size > kMaxStringBytes || type_size > file_bytes)
        refuse(what, std::to_string(type_size) + " bytes", "string size is impossible in this file");
      std::string s(type_size, '\0');
      check(H5Aread(attr_id, type.get(), s.data()), what, "read the attribute");
      return std::string(s.c_str());
    }
    case H5T_INTEGER: {
      if (type_size > 8) return std::nullopt;
      std::vector<std::int64_t> v(static_cast<std::size_t>(n));
      check(H5Aread(attr_id, H5T_NATIVE_INT64, v.data()), what, "read the attribute");
      if (scalar) return v.at(0);
      return v;
    }
    case H5T_FLOAT: {
      if (type_size > 8) return std::nullopt;
      std::vector<double> v(static_cast<std::size_t>(n));
      check(H5Aread(attr_id, H5T_NATIVE_DOUBLE, v.data()), what, "read the attribute");
      if (scalar) return v.at(0);
      return v;
    }
    default:
      return std::nullopt;
  }
}

void ResultFile::Impl::read_root_attributes() {
  Handle root = handle(H5Gopen2(file->get(), "/", H5P_DEFAULT), H5Gclose, "/", "open the root group");
  H5O_info_t info;
  check(H5Oget_info2(root.get(), &info, H5O_INFO_NUM_ATTRS), "/", "count the root attributes");
  if (info.num_attrs > static_cast<hsize_t>(kMaxRootAttributes))
    refuse("/", std::to_string(info.num_attrs) + " root attributes",
           "more than qtraj reads (" + std::to_string(kMaxRootAttributes) + ")");
  // The format first (it decides how strings are read), by name.
  const std::string format_name = layout::attr::format_version.name();
  const htri_t has_format = H5Aexists(root.get(), format_name.c_str());
  if (has_format < 0) hdf5_failure("/@" + format_name, "look the attribute up");
  if (has_format > 0) {
    Handle attr = handle(H5Aopen(root.get(), format_name.c_str(), H5P_DEFAULT), H5Aclose,
                         "/@" + format_name, "open the attribute");
    const auto v = read_attribute(attr.get(), format_name);
    if (!v || !std::holds_alternative<std::int64_t>(*v))
      refuse("/@" + format_name, "", "is not an integer");
    format = std::get<std::int64_t>(*v);
    if (format < 2 || format > layout::kFormatVersion)
      refuse("/@" + format_name, std::to_string(format),
             "this qtraj reads formats 1 to " + std::to_string(layout::kFormatVersion) +
                 " (a later qtraj wrote the file?)");
  }
  // One pass in the order the file stores them (H5_ITER_NATIVE: no sorted index is built), each
  // attribute opened by the name the pass hands over: linear in their number for files with
  // dense attribute storage (format 2), at worst quadratic in a format-1 object header.
  struct AttributeWalk {
    Impl* impl;
    std::exception_ptr error;
  } walk{this, nullptr};
  auto visit = [](hid_t loc, const char* name, const H5A_info_t*, void* data) -> herr_t {
    auto* w = static_cast<AttributeWalk*>(data);
    try {
      const std::string n(name);
      Handle attr = w->impl->handle(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose, "/@" + n,
                                    "open the attribute");
      if (auto v = w->impl->read_attribute(attr.get(), n)) w->impl->attributes[n] = std::move(*v);
      return 0;
    } catch (...) {
      w->error = std::current_exception();
      return -1;
    }
  };
  hsize_t index = 0;
  const herr_t status = H5Aiterate2(root.get(), H5_INDEX_NAME, H5_ITER_NATIVE, &index, visit, &walk);
  if (walk.error) std::rethrow_exception(walk.error);
  check(status, "/", "list the root attributes");
  if (!deferred_strings.empty()) read_isolated_strings(root.get());
}

// The variable-length strings of a format-1 file, read in a child process
// (io_detail::read_strings_in_child): a damaged global heap ends the child, not us.
void ResultFile::Impl::read_isolated_strings(hid_t root) {
  io_detail::ChildStrings got;
  try {
    got = io_detail::read_strings_in_child(root, deferred_strings);
  } catch (const IoError& e) {
    refuse("/@" + deferred_strings.front(), "", e.what());
  }
  if (got.child_failed)
    refuse("/@" + deferred_strings.front(), "",
           "the file's variable-length strings (format 1) are damaged: reading them crashed or "
           "hung the reading process");
  for (std::size_t k = 0; k < deferred_strings.size(); ++k) {
    if (!got.values[k]) refuse("/@" + deferred_strings[k], "", "HDF5 could not read the attribute");
    attributes[deferred_strings[k]] = *got.values[k];
  }
  deferred_strings.clear();
}

ResultFile::ResultFile(const std::string& path) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.path = path;
  // A regular file, found without blocking: open(O_NONBLOCK) returns at once on a FIFO.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  const int stat_status = ::fstat(fd, &st);
  ::close(fd);
  if (stat_status != 0) throw IoError(path + ": cannot stat (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) throw IoError(path + ": " + file_kind(st.st_mode) + ", not a result file");
  d.file_bytes = static_cast<std::uint64_t>(st.st_size);
  if (H5Fis_hdf5(path.c_str()) <= 0) throw IoError(path + ": not a readable HDF5 file");
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) d.hdf5_failure("/", "open the file");
  emplace(d.file, id, H5Fclose, path);
  d.read_root_attributes();
}

ResultFile::~ResultFile() = default;

const std::string& ResultFile::path() const { return impl_->path; }
std::int64_t ResultFile::format_version() const { return impl_->format; }
const std::map<std::string, AttributeValue>& ResultFile::attributes() const {
  return impl_->attributes;
}

void ResultFile::refuse(const std::string& what, const std::string& value,
                        const std::string& why) const {
  impl_->refuse(what, value, why);
}

bool ResultFile::has(const std::string& dataset) const {
  const Impl& d = *impl_;
  if (dataset.empty() || dataset[0] != '/' || dataset.size() == 1) return false;
  // Each link along the path, as H5Lexists requires; only hard links (a soft or external link
  // could lead anywhere, another file included).
  std::size_t pos = 0;
  for (;;) {
    const std::size_t next = dataset.find('/', pos + 1);
    const std::string prefix = dataset.substr(0, next);
    const htri_t exists = H5Lexists(d.file->get(), prefix.c_str(), H5P_DEFAULT);
    if (exists < 0) d.hdf5_failure(prefix, "look the link up");
    if (exists == 0) return false;
    H5L_info_t link;
    d.check(H5Lget_info(d.file->get(), prefix.c_str(), &link, H5P_DEFAULT), prefix,
            "read the link");
    if (link.type != H5L_TYPE_HARD) d.refuse(prefix, "", "is a soft or external link, not a dataset or group");
    if (next == std::string::npos) return true;
    pos = next;
  }
}

struct ResultFile::Impl::Opened {
  std::optional<Handle> set, type;
  std::vector<std::uint64_t> dims;
  std::uint64_t total = 0;
  H5T_class_t type_class = H5T_NO_CLASS;
};

void ResultFile::Impl::open_dataset(const std::string& name, Opened& o) const {
  const hid_t set = H5Dopen2(file->get(), name.c_str(), H5P_DEFAULT);
  if (set < 0) hdf5_failure(name, "open the dataset");
  emplace(o.set, set, H5Dclose, name);
  const hid_t type = H5Dget_type(set);
  if (type < 0) hdf5_failure(name, "read the dataset's type");
  emplace(o.type, type, H5Tclose, name);
  o.type_class = H5Tget_class(type);
  const std::size_t type_size = H5Tget_size(type);
  if (o.type_class != H5T_INTEGER && o.type_class != H5T_FLOAT)
    refuse(name, "", "is neither an integer nor a floating-point dataset");
  if (type_size == 0 || type_size > 8)
    refuse(name, std::to_string(type_size) + " bytes per value", "has an unsupported value size");
  Handle space = handle(H5Dget_space(set), H5Sclose, name, "read the dataspace");
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  if (space_class == H5S_SIMPLE) {
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > H5S_MAX_RANK) hdf5_failure(name, "read the dataspace");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
      hdf5_failure(name, "read the dataspace");
    o.dims.assign(dims.begin(), dims.end());
  } else if (space_class != H5S_SCALAR && space_class != H5S_NULL) {
    refuse(name, "", "has an unsupported dataspace");
  }
  o.total = space_class == H5S_NULL ? 0 : 1;
  for (std::uint64_t e : o.dims) {
    if (e != 0 && o.total > std::numeric_limits<std::uint64_t>::max() / 8 / e)
      refuse(name, shape_text(o.dims), "declares more values than any memory holds");
    o.total *= e;
  }
  if (o.total == 0) return;
  // The filters: only those qtraj (and h5py's defaults) use; an unknown one would make HDF5 look
  // for a plugin library to load.
  Handle dcpl = handle(H5Dget_create_plist(set), H5Pclose, name, "read the dataset's properties");
  const int n_filters = H5Pget_nfilters(dcpl.get());
  if (n_filters < 0) hdf5_failure(name, "read the dataset's filters");
  bool compressed = false;
  for (int k = 0; k < n_filters; ++k) {
    unsigned flags = 0;
    std::size_t n_values = 0;
    const H5Z_filter_t id =
        H5Pget_filter2(dcpl.get(), static_cast<unsigned>(k), &flags, &n_values, nullptr, 0, nullptr, nullptr);
    if (id == H5Z_FILTER_DEFLATE) compressed = true;
    else if (id != H5Z_FILTER_FLETCHER32 && id != H5Z_FILTER_SHUFFLE)
      refuse(name, "filter " + std::to_string(id), "uses a filter qtraj does not read");
  }
  // The declared size against the bytes the file stores for the dataset, before any allocation.
  const std::uint64_t stored = H5Dget_storage_size(set);
  const std::uint64_t declared = o.total * type_size;
  if (stored > file_bytes)
    refuse(name, std::to_string(stored) + " bytes", "claims more storage than the file's " +
                                                        std::to_string(file_bytes) + " bytes");
  const bool fits = compressed ? declared / kMaxInflation <= stored + 1024 : declared <= stored;
  if (!fits)
    refuse(name, shape_text(o.dims),
           "declares " + std::to_string(declared) + " bytes of values but the file stores " +
               std::to_string(stored) + " for it");
}

template <class T>
std::vector<T> ResultFile::Impl::read_values(const Opened& o, const std::string& name) const {
  std::vector<T> v(static_cast<std::size_t>(o.total));
  if (o.total > 0) {
    const hid_t mem = std::is_same_v<T, double> ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
    check(H5Dread(o.set->get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), name,
          "read the values (damaged file?)");
  }
  return v;
}

namespace {

void check_shape(const ResultFile& f, const std::string& name, const std::vector<std::uint64_t>& dims,
                 const std::vector<std::uint64_t>& expected, const std::string& expected_text) {
  bool ok = dims.size() == expected.size();
  for (std::size_t k = 0; ok && k < dims.size(); ++k)
    ok = expected[k] == kAnyExtent || expected[k] == dims[k];
  if (!ok)
    f.refuse(name, shape_text(dims),
             "has the wrong shape, expected " + shape_text(expected) +
                 (expected_text.empty() ? std::string() : " (" + expected_text + ")"));
}

template <class T>
void check_values(const ResultFile& f, const std::string& name, const std::vector<T>& v,
                  ValueRule rule) {
  for (std::size_t k = 0; k < v.size(); ++k) {
    const double x = static_cast<double>(v[k]);
    const char* why = nullptr;
    switch (rule) {
      case ValueRule::any: return;
      case ValueRule::not_nan: if (std::isnan(x)) why = "must not be NaN"; break;
      case ValueRule::finite: if (!std::isfinite(x)) why = "must be finite"; break;
      case ValueRule::finite_non_negative:
        if (!std::isfinite(x) || x < 0) why = "must be finite and >= 0";
        break;
      case ValueRule::non_negative: if (std::isnan(x) || x < 0) why = "must be >= 0"; break;
    }
    if (why) {
      std::string value;
      if constexpr (std::is_same_v<T, double>) value = number_text(v[k]);
      else value = std::to_string(v[k]);
      f.refuse(name, value, std::string("value ") + std::to_string(k) + " " + why);
    }
  }
}

}  // namespace

std::vector<std::uint64_t> ResultFile::shape(const std::string& dataset) const {
  Impl::Opened o;
  impl_->open_dataset(dataset, o);
  return o.dims;
}

std::vector<double> ResultFile::doubles(const std::string& dataset,
                                        const std::vector<std::uint64_t>& expected,
                                        const std::string& expected_text, ValueRule rule) const {
  Impl::Opened o;
  impl_->open_dataset(dataset, o);
  check_shape(*this, dataset, o.dims, expected, expected_text);
  if (o.type_class != H5T_FLOAT) refuse(dataset, "integer values", "must be floating-point");
  auto v = impl_->read_values<double>(o, dataset);
  check_values(*this, dataset, v, rule);
  return v;
}

std::vector<std::int64_t> ResultFile::ints(const std::string& dataset,
                                           const std::vector<std::uint64_t>& expected,
                                           const std::string& expected_text, ValueRule rule) const {
  Impl::Opened o;
  impl_->open_dataset(dataset, o);
  check_shape(*this, dataset, o.dims, expected, expected_text);
  if (o.type_class != H5T_INTEGER) refuse(dataset, "floating-point values", "must be integers");
  auto v = impl_->read_values<std::int64_t>(o, dataset);
  check_values(*this, dataset, v, rule);
  return v;
}

Dataset ResultFile::read(const std::string& dataset) const {
  Impl::Opened o;
  impl_->open_dataset(dataset, o);
  Dataset out;
  out.path = dataset;
  out.shape = o.dims;
  if (o.type_class == H5T_INTEGER) out.values = impl_->read_values<std::int64_t>(o, dataset);
  else out.values = impl_->read_values<double>(o, dataset);
  return out;
}

std::int64_t ResultFile::int_attribute(const std::string& name, std::int64_t lo,
                                       std::int64_t hi) const {
  const auto it = impl_->attributes.find(name);
  if (it == impl_->attributes.end()) refuse("/@" + name, "", "is missing");
  if (!std::holds_alternative<std::int64_t>(it->second))
    refuse("/@" + name, "", "is not an integer");
  const std::int64_t v = std::get<std::int64_t>(it->second);
  if (v < lo || v > hi)
    refuse("/@" + name, std::to_string(v),
           "must be in " + std::to_string(lo) + " .. " + std::to_string(hi));
  return v;
}

std::int64_t ResultFile::int_attribute(const std::string& name, std::int64_t lo, std::int64_t hi,
                                       std::int64_t fallback) const {
  if (!impl_->attributes.count(name)) return fallback;
  return int_attribute(name, lo, hi);
}

std::string ResultFile::string_attribute(const std::string& name) const {
  const auto it = impl_->attributes.find(name);
  return it != impl_->attributes.end() && std::holds_alternative<std::string>(it->second)
             ? std::get<std::string>(it->second)
             : std::string();
}

}  // namespace qtraj
