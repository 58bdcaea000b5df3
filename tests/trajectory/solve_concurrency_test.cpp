// Two solves at once in one process, on two threads (include/qtraj/solve_context.hpp): each gets
// the result it gets alone, bit for bit, and a stop request stops only the solve it was given.
// The solvers share no process-wide state: the stop request and the communicator come in
// through the SolveContext, OpenBLAS's thread count is handed out by exact::BlasThreads, and
// HDF5 (the checkpoints both runs write) is entered by one thread at a time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <thread>
#include <type_traits>

#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/checkpoint.hpp"
#include "tsan_test.hpp"
#include "scratch_dir.hpp"

namespace qtraj {
namespace {

namespace fs = std::filesystem;

// Equal bit for bit: the tables, every extra dataset and every attribute.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  static_assert(std::is_trivially_copyable_v<T>);
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

void expect_bit_identical(const Result& a, const Result& b) {
  EXPECT_EQ(a.solver, b.solver);
  EXPECT_TRUE(same_bits(a.time, b.time));
  EXPECT_TRUE(same_bits(a.jz_over_n_mean.data, b.jz_over_n_mean.data));
  EXPECT_TRUE(same_bits(a.jz_over_n_stderr.data, b.jz_over_n_stderr.data));
  EXPECT_TRUE(same_bits(a.excitations_mean.data, b.excitations_mean.data));
  EXPECT_TRUE(same_bits(a.excitations_stderr.data, b.excitations_stderr.data));
  ASSERT_EQ(a.extra.size(), b.extra.size());
  for (std::size_t d = 0; d < a.extra.size(); ++d) {
    EXPECT_EQ(a.extra[d].path, b.extra[d].path);
    EXPECT_EQ(a.extra[d].shape, b.extra[d].shape) << a.extra[d].path;
    const bool same = std::visit(
        [&](const auto& va) {
          using V = std::decay_t<decltype(va)>;
          const auto* vb = std::get_if<V>(&b.extra[d].values);
          return vb && same_bits(va, *vb);
        },
        a.extra[d].values);
    EXPECT_TRUE(same) << a.extra[d].path;
  }
  auto without_clock = [](std::map<std::string, AttributeValue> attributes) {
    attributes.erase("meanfield_seconds");  // wall-clock time
    return attributes;
  };
  EXPECT_TRUE(without_clock(a.attributes) == without_clock(b.attributes));
}

class SolveConcurrency : public ::testing::Test {
 protected:
  qtraj::testing::ScratchDir scratch_{"qtraj_concurrency_test"};
  const fs::path dir_ = scratch_.path;
  // (12,6,2) chain, first domain excited, t = 0..4; output SOLVER.h5 unless `sets` say otherwise.
  RunConfig config(const std::string& solver, std::vector<std::string> sets = {}) {
    sets.insert(sets.begin(), "output.path=\"" + (dir_ / (solver + ".h5")).string() + "\"");
    return parse_run_config(
        "[system]\ndomains = [12, 6, 2]\ninitial = [\"excited\", \"ground\", \"ground\"]\n"
        "[time]\nend = 4.0\npoints = 21\n[solver]\nkind = \"" + solver + "\"\nthreads = 2\n"
        "trajectories = 3000\nrecord_jumps = 50\n[output]\ncheckpoint_seconds = 0\n",
        sets);
  }
};

// Runs f(0) and f(1) on two threads at once; rethrows the first failure.
template <class F>
void on_two_threads(F f) {
  std::exception_ptr error[2];
  auto run = [&](int k) {
    try {
      f(k);
    } catch (...) {
      error[k] = std::current_exception();
    }
  };
  std::thread t0(run, 0), t1(run, 1);
  t0.join();
  t1.join();
  for (auto& e : error)
    if (e) std::rethrow_exception(e);
}

QTRAJ_TSAN_TEST_F(SolveConcurrency, ExactAndTrajectoriesOnTwoThreadsEqualOneAfterTheOther) {
  // The exact solve (Laplace, two workers calling BLAS) beside a trajectory solve (two workers).
  const RunConfig configs[2] = {config("exact"), config("trajectories")};
  const Result alone[2] = {solve(configs[0]), solve(configs[1])};
  Result together[2];
  on_two_threads([&](int k) { together[k] = solve(configs[k]); });
  for (int k = 0; k < 2; ++k) {
    SCOPED_TRACE(configs[k].solver.kind);
    expect_bit_identical(together[k], alone[k]);
  }
}

QTRAJ_TSAN_TEST_F(SolveConcurrency, TwoExactSolvesOnTwoThreadsEqualOneAfterTheOther) {
  // The Laplace and the ESDIRK integrator: both call BLAS at once (one thread each,
  // exact::BlasThreads), Laplace from two workers of its own.
  const RunConfig configs[2] = {config("exact"), config("exact", {"solver.integrator=\"esdirk\""})};
  const Result alone[2] = {solve(configs[0]), solve(configs[1])};
  EXPECT_NE(std::get<std::string>(alone[0].attributes.at("exact_integrator")),
            std::get<std::string>(alone[1].attributes.at("exact_integrator")));
  Result together[2];
  on_two_threads([&](int k) { together[k] = solve(configs[k]); });
  for (int k = 0; k < 2; ++k) {
    SCOPED_TRACE(k);
    expect_bit_identical(together[k], alone[k]);
  }
}

QTRAJ_TSAN_TEST_F(SolveConcurrency, TwoCheckpointingTrajectoryRunsOnTwoThreadsEqualOneAfterTheOther) {
  // Different seeds, separate outputs; both write checkpoints every 10 ms (HDF5 from two solves).
  const RunConfig configs[2] = {
      config("trajectories", {"solver.seed=11", "output.checkpoint_seconds=0.01",
                              "output.path=\"" + (dir_ / "a.h5").string() + "\""}),
      config("trajectories", {"solver.seed=12", "output.checkpoint_seconds=0.01",
                              "output.path=\"" + (dir_ / "b.h5").string() + "\""})};
  Result alone[2];
  for (int k = 0; k < 2; ++k) {
    alone[k] = solve(configs[k]);
    remove_checkpoints(configs[k].output.path);
  }
  Result together[2];
  on_two_threads([&](int k) { together[k] = solve(configs[k]); });
  for (int k = 0; k < 2; ++k) {
    SCOPED_TRACE(k);
    expect_bit_identical(together[k], alone[k]);
  }
  EXPECT_FALSE(same_bits(together[0].jz_over_n_mean.data, together[1].jz_over_n_mean.data));
}

QTRAJ_TSAN_TEST_F(SolveConcurrency, AStopRequestStopsOnlyItsOwnSolve) {
  // Run 0 is long and is stopped from its first progress report; run 1 (another seed) runs beside
  // it to the end. Run 0 leaves a checkpoint of the chunks it finished.
  const RunConfig stopped = config("trajectories", {"solver.trajectories=400000",
                                                    "output.checkpoint_seconds=100"});
  const RunConfig other = config("trajectories", {"solver.seed=7", "output.path=\"" +
                                                                       (dir_ / "other.h5").string() +
                                                                       "\""});
  const Result other_alone = solve(other);
  StopRequest stop;
  SolveContext stoppable;
  stoppable.stop = &stop;
  stoppable.progress = [&](double fraction, const std::string&) {
    if (fraction < 1.0) stop.request();
  };
  Result other_together;
  bool interrupted = false;
  on_two_threads([&](int k) {
    if (k == 1) {
      other_together = solve(other);
      return;
    }
    try {
      solve(stopped, stoppable);
    } catch (const Interrupted& e) {
      interrupted = true;
      EXPECT_EQ(e.exit_code(), 130);  // a plain request reads as SIGINT
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("stopped on request: ", 0), 0u) << what;
      EXPECT_NE(what.find(" of 256 chunks saved in "), std::string::npos) << what;
      EXPECT_EQ(what.find("256 of 256"), std::string::npos) << what;
    }
  });
  ASSERT_TRUE(interrupted) << "the long run was not stopped";
  EXPECT_TRUE(stop.requested());
  expect_bit_identical(other_together, other_alone);
  EXPECT_TRUE(fs::exists(checkpoint_path(stopped.output.path)));
  EXPECT_TRUE(existing_checkpoints(other.output.path).empty());
}

QTRAJ_TSAN_TEST_F(SolveConcurrency, AStopRequestWithoutCheckpointsSavesNothingAndSaysSo) {
  StopRequest stop;
  stop.request();
  SolveContext context;
  context.stop = &stop;
  try {
    solve(config("trajectories"), context);
    ADD_FAILURE() << "not interrupted";
  } catch (const Interrupted& e) {
    EXPECT_NE(std::string(e.what()).find("nothing saved"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(existing_checkpoints(config("trajectories").output.path).empty());
}

QTRAJ_TSAN_TEST_F(SolveConcurrency, TheOtherSolversStopAtTheirNextProgressPoint) {
  for (const char* kind : {"exact", "meanfield", "steady"}) {
    SCOPED_TRACE(kind);
    // (meanfield: z_right, as solver.closure = auto falls back to on this system)
    const RunConfig c = config(kind, {"solver.closure=\"z_right\""});
    StopRequest stop;
    SolveContext context;
    context.stop = &stop;
    context.progress = [&](double fraction, const std::string&) {
      if (fraction < 1.0) stop.request();
    };
    try {
      solve(c, context);
      ADD_FAILURE() << "not interrupted";
    } catch (const Interrupted& e) {
      EXPECT_EQ(std::string(e.what()).rfind(std::string(kind) + ": stopped on request (", 0), 0u)
          << e.what();
    }
    // The same context unstopped: the result of a plain solve.
    StopRequest never;
    context.stop = &never;
    context.progress = {};
    expect_bit_identical(solve(c, context), solve(c));
  }
}

}  // namespace
}  // namespace qtraj
