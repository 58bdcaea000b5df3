// qtraj._qtraj: the compiled half of `import qtraj` (python/qtraj/ is the other). Thin: it parses
// run files with parse_run_config, runs solve(config, SolveContext) and hands results to
// write_result / compare_results / merge_trajectory_shards, as the CLI (src/cli/main.cpp) does.
//
// A solve runs on a worker std::thread while the calling thread, with the GIL released, waits on
// it in steps of 50 ms; between steps it takes the GIL, runs Python's signal handlers
// (PyErr_CheckSignals) and the progress callback. A KeyboardInterrupt (or an exception of the
// callback) requests the solve's own StopRequest, the worker is joined and the exception is
// raised. A solve from Python writes no file: it runs with output.checkpoint_seconds = 0 (applied
// after parsing, so /@config and the results are those of the CLI's run), and a stopped run
// leaves nothing behind.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/run_summary.hpp"
#include "convert.hpp"
#include "qtraj/backend/communicator.hpp"
#include "qtraj/error.hpp"
#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/io/compare.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/solve_context.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/trajectory/merge.hpp"
#include "qtraj/version.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace qtraj::python {
namespace {

using Clock = std::chrono::steady_clock;

// What the worker shares with the waiting thread.
struct SolveState {
  std::mutex mutex;
  std::condition_variable changed;
  bool done = false;
  bool fresh = false;  // a progress report the waiting thread has not passed on yet
  double fraction = 0.0;
  std::string status;
  std::optional<Result> result;
  std::exception_ptr error;
};

StoredRun solve_run(const RunConfig& config, nb::object progress) {
  RunConfig solved = config;
  solved.output.checkpoint_seconds = 0;
  SolveState state;
  StopRequest stop;  // outlives the worker: it is always joined below
  const auto start = Clock::now();
  std::thread worker([&solved, &stop, &state] {
    SolveContext context;
    context.stop = &stop;
    context.progress = [&state](double fraction, const std::string& status) {
      std::lock_guard<std::mutex> lock(state.mutex);
      state.fraction = fraction;
      state.status = status;
      state.fresh = true;
    };
    std::optional<Result> result;
    std::exception_ptr error;
    try {
      result = solve(solved, context);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(state.mutex);
    state.result = std::move(result);
    state.error = error;
    state.done = true;
    state.changed.notify_all();
  });
  std::optional<nb::python_error> raised;
  for (;;) {
    bool done = false, fresh = false;
    double fraction = 0.0;
    std::string status;
    {
      nb::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(state.mutex);
      state.changed.wait_for(lock, std::chrono::milliseconds(50), [&] { return state.done; });
      done = state.done;
      fresh = std::exchange(state.fresh, false);
      fraction = state.fraction;
      status = state.status;
    }
    if (done) break;
    if (PyErr_CheckSignals() != 0) {
      raised.emplace();  // fetches the KeyboardInterrupt (or a signal handler's exception)
      break;
    }
    if (fresh && !progress.is_none()) {
      try {
        progress(fraction, status);
      } catch (nb::python_error& e) {
        raised.emplace(std::move(e));
        break;
      }
    }
  }
  if (raised) stop.request(SIGINT);
  {
    nb::gil_scoped_release release;
    worker.join();
  }
  if (raised) throw *raised;
  if (state.error) std::rethrow_exception(state.error);
  StoredRun run;
  run.result = std::move(*state.result);
  run.config = config;
  run.qtraj_version = kVersion;
  run.domains = config.model.spins;
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

// Raises qtraj.<name> (python/qtraj/_errors.py) with the C++ message; InputError also gets .field.
void raise_python(const char* name, const char* message, const std::string* field = nullptr) {
  nb::object cls = nb::module_::import_("qtraj._errors").attr(name);
  nb::object error = cls(message);
  if (field) error.attr("field") = *field;
  PyErr_SetObject(cls.ptr(), error.ptr());
}

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const InputError& e) {
    raise_python("InputError", e.what(), &e.field());
  } catch (const IoError& e) {
    raise_python("IoError", e.what());
  } catch (const NotCompiled& e) {
    raise_python("NotCompiledError", e.what());
  } catch (const DeviceError& e) {
    raise_python("DeviceError", e.what());
  } catch (const Interrupted& e) {
    raise_python("Interrupted", e.what());
  } catch (const Error& e) {
    raise_python("Error", e.what());
  }
}

std::string describe_comparison(const StoredRun& a, const StoredRun& b, const std::string& name_a,
                                 const std::string& name_b, double threshold, double abs_tol,
                                 bool* passed) {
  const Comparison c = compare_results(a.result, b.result, threshold, abs_tol);
  *passed = c.passed;
  return cli::describe(c, name_a, name_b, threshold, abs_tol);
}

}  // namespace
}  // namespace qtraj::python

NB_MODULE(_qtraj, m) {
  using namespace qtraj;
  using python::StoredRun;
  m.doc() = "The compiled part of qtraj (use the package `qtraj`: run, load, compare, merge).";
  // OpenBLAS's kernels, once, before any thread runs BLAS, as the CLI does at start.
  m.attr("blas_core") = exact::initialize_blas();
  m.attr("version") = kVersion;
#ifdef QTRAJ_HAVE_CUDA
  m.attr("cuda_built") = true;
#else
  m.attr("cuda_built") = false;
#endif
  nb::register_exception_translator(python::translate);

  nb::class_<RunConfig>(m, "Config", "A parsed, validated run file (parse_run_config).")
      .def_prop_ro("text", [](const RunConfig& c) { return c.text; },
                   "the run file's text after the overrides, as /@config stores it")
      .def_prop_ro("kind", [](const RunConfig& c) { return c.solver.kind; }, "solver.kind")
      .def_prop_ro("output_path", [](const RunConfig& c) { return c.output.path; }, "output.path")
      .def_prop_ro("threads", [](const RunConfig& c) { return c.solver.threads; },
                   "solver.threads (0: all cores)")
      .def_prop_ro("backend", [](const RunConfig& c) { return c.solver.backend; }, "solver.backend")
      .def_prop_ro("domains", [](const RunConfig& c) { return c.model.spins; }, "N_i per domain");

  m.def("parse_config", &parse_run_config, "text"_a, "overrides"_a, "source_name"_a,
        "Parses run-file text with `--set` overrides (\"a.b=value\", value in TOML).");
  m.def("load_config", &load_run_config, "path"_a, "overrides"_a,
        "Reads and parses a run file with `--set` overrides.");

  nb::class_<StoredRun>(m, "StoredRun", "A result with the run it came from.")
      .def_prop_ro("solver", [](const StoredRun& r) { return r.result.solver; })
      .def_prop_ro("config_text", [](const StoredRun& r) { return r.config.text; })
      .def_prop_ro("qtraj_version", [](const StoredRun& r) { return r.qtraj_version; })
      .def_prop_ro("seconds", [](const StoredRun& r) { return r.seconds; })
      .def_prop_ro("source", [](const StoredRun& r) { return r.source; })
      .def("datasets", &python::datasets, "{HDF5 dataset path: numpy array}")
      .def("attributes", &python::attributes, "{root attribute: value}")
      .def("summary", [](const StoredRun& r) {
             if (!r.source.empty()) {
               StoredResult s{r.result, r.config.text, r.qtraj_version, r.domains};
               return cli::describe(s, r.source);
             }
             // The CLI's line without its "; wrote PATH" (a solve writes nothing).
             const std::string line = cli::one_line_summary(r.result, r.config, r.seconds);
             return line.substr(0, line.rfind("; wrote "));
           }, "the CLI's summary: `qtraj info` of a loaded file, the run's line of a solve")
      .def("save", [](const StoredRun& r, const std::string& path) {
             if (!r.has_config)
               throw Error(path + ": cannot write a result whose /config does not parse (" +
                           r.config_error + ")");
             nb::gil_scoped_release release;
             check_output_writable(path);
             if (r.source.empty()) return write_result(path, r.result, r.config);
             // A loaded file's /@initial is among its attributes; write_result writes it from
             // the config.
             Result result = r.result;
             result.attributes.erase(layout::attr::initial.name());
             write_result(path, result, r.config);
           }, "path"_a, "Writes the HDF5 file the CLI writes (write_result).");

  m.def("solve", &python::solve_run, "config"_a, "progress"_a.none(),
        "Runs solve(config) on a worker thread, the GIL released; progress(fraction, status) is "
        "called on this thread. KeyboardInterrupt stops the solve.");
  m.def("load", [](const std::string& path) {
          nb::gil_scoped_release release;
          return python::load_stored_run(path);
        }, "path"_a, "Reads a qtraj HDF5 file (read_result, then every layout dataset it has).");
  m.def("merge", [](const std::vector<std::string>& paths) {
          nb::gil_scoped_release release;
          MergedShards merged = merge_trajectory_shards(paths);
          StoredRun run;
          run.result = std::move(merged.result);
          run.config = std::move(merged.config);
          run.qtraj_version = kVersion;
          run.domains = run.config.model.spins;
          return run;
        }, "paths"_a, "`qtraj merge`: trajectory shards into one result.");
  m.def("compare", [](const StoredRun& a, const StoredRun& b, const std::string& name_a,
                      const std::string& name_b, double threshold, double abs_tol) {
          bool passed = false;
          std::string text = python::describe_comparison(a, b, name_a, name_b, threshold, abs_tol,
                                                         &passed);
          return nb::make_tuple(passed, text);
        }, "a"_a, "b"_a, "name_a"_a, "name_b"_a, "threshold"_a, "abs_tol"_a,
        "`qtraj compare`: (passed, the CLI's report).");
}
