// A solver that does not handle local processes refuses them in one line naming the
// [[local]] key and its value; all rates zero is the collective model.
#include <gtest/gtest.h>

#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

TEST(LocalRefusal, NamesTheFirstPositiveRate) {
  const RunConfig c = parse_run_config(
      "[system]\ndomains = [2, 1]\n[[local]]\nemission = 0.0\n[[local]]\ndomains = [2]\n"
      "pumping = 0.0\ndephasing = 0.25\n");
  try {
    refuse_local_processes(c.model, "the test solver");
    FAIL() << "not refused";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("local[2].dephasing", 0), 0u) << what;
    EXPECT_NE(what.find("0.25"), std::string::npos) << what;
    EXPECT_NE(what.find("the test solver"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  const RunConfig zero =
      parse_run_config("[system]\ndomains = [2, 1]\n[[local]]\nemission = 0.0\n");
  EXPECT_NO_THROW(refuse_local_processes(zero.model, "the test solver"));
}

}  // namespace
}  // namespace qtraj
