// main of qtraj_tsan_tests (ThreadSanitizer builds): runs every test marked QTRAJ_TSAN_TEST or
// QTRAJ_TSAN_TEST_F (tests/tsan_test.hpp) in the test files CMakeLists.txt found them in, and
// nothing else, unless --gtest_filter says otherwise. Fails when nothing is marked or when the
// tests that ran are not exactly the marked ones.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tsan_test.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const auto& marked = qtraj::tsan::marked_tests();
  if (marked.empty()) {
    std::fprintf(stderr, "qtraj_tsan_tests: no test is marked QTRAJ_TSAN_TEST\n");
    return 1;
  }
  const bool all_marked = ::testing::GTEST_FLAG(filter) == "*";
  if (all_marked) {
    std::string filter;
    for (const auto& t : marked) filter += (filter.empty() ? "" : ":") + t.name;
    ::testing::GTEST_FLAG(filter) = filter;
  }
  std::printf("qtraj_tsan_tests: %zu tests marked QTRAJ_TSAN_TEST\n", marked.size());
  const int status = RUN_ALL_TESTS();
  const int ran = ::testing::UnitTest::GetInstance()->test_to_run_count();
  if (all_marked && ran != static_cast<int>(marked.size())) {
    std::fprintf(stderr, "qtraj_tsan_tests: %d tests ran, %zu are marked\n", ran, marked.size());
    return 1;
  }
  return status;
}
