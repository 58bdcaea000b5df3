// The ThreadSanitizer selection (tests/tsan_test.hpp): every test file of this program that marks a
// test QTRAJ_TSAN_TEST is one that CMakeLists.txt builds into qtraj_tsan_tests
// (QTRAJ_TSAN_TEST_FILES, its scan of the test sources).
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "tsan_test.hpp"

namespace {

// "tests/<part>/<file>.cpp" from a path as the compiler saw it (absolute, or relative to the
// build directory where ccache rewrote it).
std::string from_tests_dir(const std::string& path) {
  if (path.rfind("tests/", 0) == 0) return path;
  const auto at = path.rfind("/tests/");
  return at == std::string::npos ? path : path.substr(at + 1);
}

}  // namespace

TEST(TsanSelection, EveryFileWithAMarkedTestIsInTheTsanProgram) {
  std::set<std::string> scanned;
  std::istringstream list(QTRAJ_TSAN_TEST_FILES);
  for (std::string f; std::getline(list, f, ':');) scanned.insert(f);
  const auto& marked = qtraj::tsan::marked_tests();
  ASSERT_FALSE(marked.empty()) << "no test is marked QTRAJ_TSAN_TEST";
  for (const auto& t : marked) {
    EXPECT_EQ(scanned.count(from_tests_dir(t.file)), 1u)
        << t.name << " (" << t.file << ") is marked but its file is not in qtraj_tsan_tests "
        << "(re-run cmake: CMakeLists.txt scans the test files when it configures)";
  }
}
