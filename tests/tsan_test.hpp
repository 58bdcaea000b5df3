#pragma once
// Tests that run real threads are marked where they are defined, and scripts/test.sh runs every
// marked test under ThreadSanitizer:
//   QTRAJ_TSAN_TEST(Suite, Name) { ... }       instead of TEST(Suite, Name)
//   QTRAJ_TSAN_TEST_F(Fixture, Name) { ... }   instead of TEST_F(Fixture, Name)
// The test keeps its name and runs in qtraj_tests as before. In a ThreadSanitizer build
// (-DQTRAJ_SANITIZE_THREAD=ON), CMakeLists.txt builds qtraj_tsan_tests from the test files that use
// these macros, and its main (tests/tsan_main.cpp) runs exactly the marked tests: a renamed or
// moved test stays selected, a new one needs nothing else.
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qtraj::tsan {

/// A marked test: "Suite.Name" and the file that defines it.
struct MarkedTest {
  std::string name, file;
};

/// Every marked test linked into this program, in static-initialisation order.
inline std::vector<MarkedTest>& marked_tests() {
  static std::vector<MarkedTest> tests;
  return tests;
}

struct Mark {
  Mark(const char* suite, const char* name, const char* file) {
    marked_tests().push_back({std::string(suite) + "." + name, file});
  }
};

}  // namespace qtraj::tsan

#define QTRAJ_TSAN_MARK_(suite, name) \
  static const ::qtraj::tsan::Mark qtraj_tsan_mark_##suite##_##name(#suite, #name, __FILE__)
#define QTRAJ_TSAN_TEST(suite, name) \
  QTRAJ_TSAN_MARK_(suite, name);     \
  TEST(suite, name)
#define QTRAJ_TSAN_TEST_F(fixture, name) \
  QTRAJ_TSAN_MARK_(fixture, name);       \
  TEST_F(fixture, name)
