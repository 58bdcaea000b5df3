#pragma once
// Internal to src/io: RAII for HDF5 identifiers and the scope every qtraj call into HDF5 runs in.
#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "qtraj/error.hpp"

namespace qtraj::io_detail {

/// The innermost message of HDF5's error stack of this thread (e.g. "incorrect metadata
/// checksum after all read tries"), empty if there is none.
std::string hdf5_error_detail();

/// "HDF5: <what>[: <innermost HDF5 message>]".
inline std::string hdf5_message(const std::string& what) {
  const std::string detail = hdf5_error_detail();
  return "HDF5: " + what + (detail.empty() ? std::string() : ": " + detail);
}

// RAII for HDF5 identifiers; a negative id throws IoError(hdf5_message(what)). `what` names the
// file and the object (callers pass "FILE: open dataset /x").
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
    if (id_ < 0) throw IoError(hdf5_message(what));
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

inline void check(herr_t status, const std::string& what) {
  if (status < 0) throw IoError(hdf5_message(what));
}

// Every qtraj call into HDF5 runs inside a QuietHdf5, declared before the call's first Handle
// (so the handles close inside it too):
//  - it holds one library-wide lock: an HDF5 built without thread safety (H5is_library_threadsafe
//    false) must never be entered by two threads at once, and two solves in two threads (their
//    checkpoints, their results) may both write; a thread-safe build (Debian's) serialises its
//    API calls internally anyway, so the lock costs nothing there;
//  - it silences HDF5's automatic error-stack printing (we report one line ourselves) and
//    restores the handler it found when the outermost scope of the thread ends, so the caller's
//    own HDF5 use (e.g. h5py in the same process) keeps its error reports.
// Reentrant on one thread (a reader open while a result is read): the lock is recursive and only
// the outermost scope saves and restores the handler.
class QuietHdf5 {
 public:
  QuietHdf5() : lock_(mutex()) {
    if (depth()++ > 0) return;
    saved_ = H5Eget_auto2(H5E_DEFAULT, &func_, &data_) >= 0;
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() {
    if (--depth() > 0) return;
    if (saved_) H5Eset_auto2(H5E_DEFAULT, func_, data_);
  }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  static std::recursive_mutex& mutex() {
    static std::recursive_mutex m;
    return m;
  }
  static int& depth() {
    thread_local int d = 0;
    return d;
  }
  std::lock_guard<std::recursive_mutex> lock_;
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
  bool saved_ = false;
};

/// The variable-length string attributes `names` of the object `loc`, read by a forked child
/// (src/io/isolated_strings.cpp): `child_failed` when it crashed, hung past 10 s or sent less
/// than promised; else one value per name, empty where HDF5 refused the attribute. Strings
/// longer than kMaxChildStringBytes count as refused. Throws IoError if no child can be made.
struct ChildStrings {
  bool child_failed = false;
  std::vector<std::optional<std::string>> values;
};
inline constexpr std::uint64_t kMaxChildStringBytes = std::uint64_t{64} << 20;
ChildStrings read_strings_in_child(hid_t loc, const std::vector<std::string>& names);

}  // namespace qtraj::io_detail
