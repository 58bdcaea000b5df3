#pragma once
// Shared by the libFuzzer targets (tests/fuzz/README.md): the input as a file (the readers take
// paths), and the rule every target checks: a qtraj::Error is a refusal (fine), anything else
// that escapes (another exception, a crash, a sanitizer report) is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "qtraj/error.hpp"

namespace qtraj::fuzz {

/// A per-process scratch file holding the input ($TMPDIR or /tmp).
inline const std::string& input_path(const char* target) {
  struct Scratch {
    std::string path;
    ~Scratch() { std::remove(path.c_str()); }
  };
  static const Scratch scratch{[target] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/qtraj_fuzz_" + target + "_" +
           std::to_string(::getpid()) + ".h5";
  }()};
  return scratch.path;
}

inline const std::string& write_input(const char* target, const std::uint8_t* data, std::size_t size) {
  const std::string& path = input_path(target);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

/// Runs `body`; a qtraj::Error is a refusal, any other exception aborts (a finding).
template <class F>
void refusals_allowed(F&& body) {
  try {
    body();
  } catch (const qtraj::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qtraj fuzz: escaped exception: %s\n", e.what());
    std::abort();
  }
}

}  // namespace qtraj::fuzz
