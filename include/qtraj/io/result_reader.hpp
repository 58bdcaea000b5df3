#pragma once
// The one validating reader of the HDF5 files qtraj reads back: results (`qtraj info`, `compare`),
// shards (`qtraj merge`) and checkpoints (`--resume`). Nothing in a file is trusted: before a
// value is used or memory is allocated for it the reader checks that the path is a regular file
// (a FIFO or device is refused without blocking), that it is HDF5 of a format this qtraj reads
// (layout::kFormatVersion; format 1, the files of earlier versions, too), every dataset's type,
// shape (against what the caller expects, e.g. from the file's own config) and declared size
// (against the bytes the file stores for it: a small file cannot make us allocate gigabytes),
// its filters (deflate, shuffle, fletcher32 only: no filter plugin is ever loaded), and its
// values (a ValueRule: finite, non-negative). Root attributes are read once, in one linear pass.
// Every refusal is an IoError of one line: "FILE: /dataset or /@attribute: what is wrong (got
// VALUE)"; every HDF5 failure names the file and the dataset too.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/result.hpp"

namespace qtraj {

/// What the values of a dataset must be.
enum class ValueRule { any, not_nan, finite, finite_non_negative, non_negative };

/// An extent of an expected shape that matches any size.
inline constexpr std::uint64_t kAnyExtent = ~std::uint64_t{0};

/// Root attributes beyond this many are refused (qtraj writes fewer than 60).
inline constexpr std::int64_t kMaxRootAttributes = 100000;

class ResultFile {
 public:
  /// Opens `path` read-only and reads its root attributes. Throws IoError (one line).
  explicit ResultFile(const std::string& path);
  ~ResultFile();
  ResultFile(const ResultFile&) = delete;
  ResultFile& operator=(const ResultFile&) = delete;

  const std::string& path() const;
  /// layout::kFormatVersion or earlier (1: no format_version attribute).
  std::int64_t format_version() const;
  /// The root attributes that could be read (strings, integers, doubles and their arrays;
  /// attributes of other types are skipped).
  const std::map<std::string, AttributeValue>& attributes() const;

  /// True if `dataset` (e.g. "/jumps/time") exists, reached through hard links only.
  bool has(const std::string& dataset) const;
  /// The dataset's shape (validated as for a read, nothing read).
  std::vector<std::uint64_t> shape(const std::string& dataset) const;
  /// Reads a floating-point or integer dataset whose shape matches `expected` (kAnyExtent
  /// matches any extent; `expected_text` says where the expectation comes from, e.g. "n_t x 2M
  /// of the stored config") and whose values obey `rule`.
  std::vector<double> doubles(const std::string& dataset, const std::vector<std::uint64_t>& expected,
                              const std::string& expected_text, ValueRule rule) const;
  std::vector<std::int64_t> ints(const std::string& dataset,
                                 const std::vector<std::uint64_t>& expected,
                                 const std::string& expected_text, ValueRule rule) const;
  /// Any dataset of integer (as int64) or floating-point (as double) type, any shape, size-checked.
  Dataset read(const std::string& dataset) const;

  /// An integer root attribute in [lo, hi]; absent: `fallback` if given, else refused.
  std::int64_t int_attribute(const std::string& name, std::int64_t lo, std::int64_t hi) const;
  std::int64_t int_attribute(const std::string& name, std::int64_t lo, std::int64_t hi,
                             std::int64_t fallback) const;
  /// A string root attribute; absent or not a string: "".
  std::string string_attribute(const std::string& name) const;

  /// Throws IoError("FILE: WHAT: WHY (got VALUE)"); `what` is a dataset path or "/@name".
  [[noreturn]] void refuse(const std::string& what, const std::string& value,
                           const std::string& why) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The contract part of an open file (read_result(path) is this on a fresh ResultFile): /time,
/// the four tables (absent stderr tables: zeros), the root attributes. `n_t` and `domains`, when
/// known from the file's config, are the shapes the tables must have (checked before reading).
StoredResult read_result(const ResultFile& file, std::uint64_t n_t = kAnyExtent,
                         std::uint64_t domains = kAnyExtent);

}  // namespace qtraj
