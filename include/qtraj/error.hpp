#pragma once
// Typed errors. Every user-facing failure is one line: the CLI prints what() and exits non-zero.
#include <stdexcept>
#include <string>

namespace qtraj {

/// Base of all qtraj errors.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad user input: names the field and the offending value.
/// what() == "<field>: <message> (got <value>)".
class InputError : public Error {
 public:
  InputError(const std::string& field, const std::string& value, const std::string& message)
      : Error(field + ": " + message + (value.empty() ? std::string() : " (got " + value + ")")),
        field_(field) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

/// A file could not be read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A feature is not compiled into this build (e.g. the CUDA backend on a CPU-only build).
class NotCompiled : public Error {
 public:
  explicit NotCompiled(const std::string& what)
      : Error(what + ": qtraj was built without CUDA (configure with -DQTRAJ_BUILD_CUDA=ON)") {}
};

/// A GPU runtime failure (missing device, out of memory, launch error).
class DeviceError : public Error {
 public:
  using Error::Error;
};

}  // namespace qtraj
