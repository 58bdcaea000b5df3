#pragma once
// A scratch directory for one test: <temp>/<prefix>_<pid>_<test name>, created empty and removed
// with everything in it when the owner goes out of scope. Tests that write files (results,
// checkpoints, run files) take one each, so parallel ctest processes never share a path.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace qtraj::testing {

struct ScratchDir {
  std::filesystem::path path;

  explicit ScratchDir(const std::string& prefix) {
    std::string name = prefix + "_" + std::to_string(::getpid());
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
      std::string test = info->name();  // "Name/0" for parameterised tests
      for (char& c : test)
        if (c == '/') c = '_';
      name += "_" + test;
    }
    path = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

}  // namespace qtraj::testing
