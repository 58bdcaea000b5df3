// Variable-length string attributes of format-1 files, read in a child process
// (src/io/hdf5_handle.hpp, read_strings_in_child).
//
// A child forked here reads them and writes them to a pipe (per string: 8-byte length, or all
// ones if HDF5 refused it, then the bytes). A damaged global heap can crash libhdf5 1.10 inside
// H5Aread (an unchecked object size or index) or make it loop: then the child dies, or its
// alarm ends it after 10 s, and the caller refuses the file; this process never runs that code.
// The child only reads (the file is open read-only, through pread) and leaves with _exit. No
// other thread is inside HDF5 meanwhile: the caller's QuietHdf5 holds qtraj's HDF5 lock across
// the fork.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "io/hdf5_handle.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define QTRAJ_SANITIZED 1
#include <sanitizer/common_interface_defs.h>
#endif
#endif
#ifndef QTRAJ_SANITIZED
#define QTRAJ_SANITIZED 0
#endif

namespace qtraj::io_detail {

namespace {

bool write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

ChildStrings read_strings_in_child(hid_t loc, const std::vector<std::string>& names) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw IoError(std::string("cannot create a pipe (") + std::strerror(errno) + ")");
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw IoError(std::string("cannot fork (") + std::strerror(errno) + ")");
  }
  if (pid == 0) {
    ::close(fds[0]);
    // A crash here is the child's own end, not a report of the parent's: default actions, and
    // under a sanitizer (the fuzz targets) no death callback (libFuzzer's would save the input
    // as a crash of the target).
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE}) ::signal(sig, SIG_DFL);
#if QTRAJ_SANITIZED
    __sanitizer_set_death_callback(nullptr);
#endif
    // A damaged heap can also make libhdf5 loop forever: the default SIGALRM action ends the
    // child (a handler the parent installed, e.g. a fuzzer's, would not).
    ::signal(SIGALRM, SIG_DFL);
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    ::sigprocmask(SIG_UNBLOCK, &alarm_only, nullptr);
    ::alarm(10);
    for (const std::string& name : names) {
      std::uint64_t length = ~std::uint64_t{0};
      std::string value;
      const hid_t attr = H5Aopen(loc, name.c_str(), H5P_DEFAULT);
      const hid_t type = attr >= 0 ? H5Aget_type(attr) : -1;
      char* ptr = nullptr;  // the file type (with its charset) doubles as the memory type
      if (type >= 0 && H5Aread(attr, type, &ptr) >= 0) {
        value = ptr ? ptr : "";
        H5free_memory(ptr);
        if (value.size() <= kMaxChildStringBytes) length = value.size();
      }
      if (!write_all(fds[1], &length, sizeof length) ||
          (length != ~std::uint64_t{0} && !write_all(fds[1], value.data(), value.size())))
        ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string bytes;
  char buf[65536];
  for (;;) {
    const ssize_t r = ::read(fds[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    bytes.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ChildStrings out;
  out.child_failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  std::size_t at = 0;
  for (std::size_t k = 0; k < names.size() && !out.child_failed; ++k) {
    std::uint64_t length = 0;
    if (bytes.size() - at < sizeof length) {
      out.child_failed = true;
      break;
    }
    std::memcpy(&length, bytes.data() + at, sizeof length);
    at += sizeof length;
    if (length == ~std::uint64_t{0}) {
      out.values.emplace_back();
      continue;
    }
    if (bytes.size() - at < length) {
      out.child_failed = true;
      break;
    }
    out.values.emplace_back(bytes.substr(at, length));
    at += length;
  }
  return out;
}

}  // namespace qtraj::io_detail
