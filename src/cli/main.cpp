// The `qtraj` command line: run, demo, info, compare. Errors are one line on stderr, exit != 0.
#include <CLI/CLI.hpp>
#include <hdf5.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <new>
#include <sstream>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "qtraj/backend/communicator.hpp"
#include "qtraj/io/compare.hpp"
#include "qtraj/embedded_default.hpp"
#include "qtraj/error.hpp"
#include "qtraj/exact/dense_kernels.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/trajectory/checkpoint.hpp"
#include "qtraj/trajectory/merge.hpp"
#include "qtraj/model/run_config.hpp"
#include "qtraj/solvers.hpp"
#include "qtraj/version.hpp"
#include "plot_script.hpp"
#include "run_summary.hpp"
#include "stop_signals.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Progress on stderr, only when it is a terminal; at most ~5 updates a second.
qtraj::ProgressFn make_progress(const std::string& solver, bool enabled) {
  if (!enabled || !::isatty(STDERR_FILENO)) return {};
  auto last = std::make_shared<Clock::time_point>(Clock::now() - std::chrono::seconds(1));
  return [solver, last](double fraction, const std::string& status) {
    const auto now = Clock::now();
    if (fraction < 1.0 && now - *last < std::chrono::milliseconds(200)) return;
    *last = now;
    std::fprintf(stderr, "\r\033[Kqtraj %s: %5.1f%% %s", solver.c_str(), 100.0 * fraction,
                 status.c_str());
    if (fraction >= 1.0) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

// A TOML basic string literal for `s` (quotes, backslashes and controls escaped), for --set.
std::string toml_string(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

std::string python_interpreter() {
  if (const char* p = std::getenv("QTRAJ_PYTHON")) return p;
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

std::string quote_shell(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A message on one line: control characters (a newline in a run-file string) as \n, \t, \xHH.
std::string one_line(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  return out;
}

// Plots <J_i^z>/N_i against time with scripts/plot_result.py (matplotlib). A failure is one line:
// the script's last line of output (a Python traceback ends with the exception), not the whole.
void make_plot(const std::string& h5_path, const std::string& png_path) {
  const std::string script = qtraj::cli::plot_script_path();  // $QTRAJ_PLOT_SCRIPT, installed, source
  const std::string cmd = quote_shell(python_interpreter()) + " " + quote_shell(script) + " " +
                          quote_shell(h5_path) + " -o " + quote_shell(png_path) + " 2>&1";
  std::string output, last;
  int status = -1;
  if (FILE* pipe = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof(buf), pipe)) output += buf;
    status = ::pclose(pipe);
  }
  if (status == 0) return;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  throw qtraj::IoError(png_path + ": plotting failed" + (last.empty() ? "" : ": " + last) +
                       " (needs python3 with h5py and matplotlib; the HDF5 result " + h5_path +
                       " is complete)");
}

// Checks before a run that `path` (a key's value) can be written: not empty, not a directory,
// its directory writable (a probe file created and removed). InputError naming `field`.
void check_writable(const std::string& path, const std::string& field) {
  if (path.empty()) throw qtraj::InputError(field, "\"\"", "must not be empty");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw qtraj::InputError(field, "\"" + path + "\"", "is a directory; give a file name");
  const std::string probe = path + ".probe-" + std::to_string(::getpid());
  {
    std::ofstream out(probe, std::ios::binary);
    if (!out) throw qtraj::InputError(field, "\"" + path + "\"", "cannot be written");
  }
  std::remove(probe.c_str());
}

// write_result with the temporary removed if SIGINT/SIGTERM arrives during the write.
void write_result_or_nothing(const std::string& path, const qtraj::Result& result,
                             const qtraj::RunConfig& config) {
  const qtraj::cli::TemporaryGuard guard(qtraj::temporary_path(path));
  qtraj::write_result(path, result, config);
}

int run_config(qtraj::RunConfig config, const std::string& plot_override, bool quiet,
               qtraj::backend::Communicator& comm) {
  if (!plot_override.empty()) config.output.plot = plot_override;
  // MPI: rank 0 alone checks and writes the output; the others write nothing.
  const bool root = comm.rank() == 0;
  std::exception_ptr setup_error;
  try {
    if (root) {
      // Every output path before the run: the result, the plot, the checkpoint.
      if (config.output.path.empty())
        throw qtraj::InputError("output.path", "\"\"", "must not be empty");
      qtraj::check_output_writable(config.output.path);
      if (!config.output.plot.empty()) check_writable(config.output.plot, "output.plot");
      if (config.solver.kind == "trajectories" && config.output.checkpoint_seconds > 0) {
        std::error_code ec;
        const std::string ckpt = qtraj::checkpoint_path(config.output.path);
        if (std::filesystem::exists(ckpt, ec) && !std::filesystem::is_regular_file(ckpt, ec))
          throw qtraj::InputError("output.path", "\"" + config.output.path + "\"",
                                  "its checkpoint " + ckpt + " exists and is not a file");
      }
    }
  } catch (...) {
    setup_error = std::current_exception();
  }
  qtraj::backend::agree_on_error(setup_error, comm);
  const bool trajectories = config.solver.kind == "trajectories";
  if (config.output.resume && !trajectories)
    throw qtraj::InputError("--resume", "solver.kind = \"" + config.solver.kind + "\"",
                            "only trajectory runs write checkpoints");
  // SIGINT/SIGTERM: every solver stops at its next check (trajectories: after a last checkpoint),
  // exit 128 + signal; during the final write the temporary is removed (write_result_or_nothing).
  qtraj::cli::install_stop_handlers();
  qtraj::SolveContext context;
  context.progress = make_progress(config.solver.kind, !quiet && root);
  context.stop = &qtraj::cli::stop_request();
  context.comm = &comm;
  const auto start = Clock::now();
  const qtraj::Result result = qtraj::solve(config, context);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!root) return 0;
  write_result_or_nothing(config.output.path, result, config);
  if (trajectories) qtraj::remove_checkpoints(config.output.path);
  if (!quiet && result.attributes.count("resumed_chunks"))
    std::cerr << "qtraj: resumed from " << qtraj::checkpoint_path(config.output.path) << " ("
              << std::get<std::int64_t>(result.attributes.at("resumed_chunks"))
              << " of 256 chunks were done; checkpoint removed)\n";
  if (!quiet) std::cerr << qtraj::cli::one_line_summary(result, config, seconds) << "\n";
  if (!config.output.plot.empty()) {
    make_plot(config.output.path, config.output.plot);
    if (!quiet) std::cerr << "qtraj: plot written to " << config.output.plot << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // No HDF5 clean-up at exit: after a damaged file was refused (a checksum failed while an
  // object header loaded), libhdf5 1.10 keeps internal state it cannot free and prints "infinite
  // loop closing library" from its exit handler, after our one line. Every file is closed by then.
  H5dont_atexit();
  CLI::App app{"qtraj: collective, reservoir-assisted energy migration through chains of spin "
               "domains (exact master equation, quantum trajectories, mean field)"};
  app.set_version_flag("--version", std::string("qtraj ") + qtraj::kVersion);
  app.require_subcommand(1);

  // qtraj run FILE.toml [-o OUT.h5] [--solver KIND] [--set key=value]...
  auto* run = app.add_subcommand("run", "Run a TOML run file and write an HDF5 result");
  std::string run_file, out_path, solver_kind, plot_path;
  std::vector<std::string> sets;
  int threads = 0;
  bool quiet = false, resume = false;
  run->add_option("file", run_file, "TOML run file")->required();
  run->add_flag("--resume", resume, "trajectories: continue from the checkpoint OUTPUT.ckpt of an "
                "interrupted run (same run file and --set options)");
  auto* out_option = run->add_option("-o,--output", out_path, "HDF5 output path (overrides output.path)");
  auto* solver_option = run->add_option("--solver", solver_kind, "exact | trajectories | meanfield | steady (overrides solver.kind)");
  run->add_option("--set", sets, "override a run-file key, e.g. --set time.end=50 (repeatable)");
  auto* threads_option = run->add_option(
      "--threads", threads, "CPU threads for trajectories and the steady solver (0: all cores)");
  run->add_option("--plot", plot_path, "also write a PNG plot of <J_i^z>/N_i");
  run->add_flag("-q,--quiet", quiet, "no progress or summary on stderr");

  // qtraj demo: the embedded default (the paper's Fig. 2a on the CPU).
  auto* demo = app.add_subcommand("demo", "Run the embedded default (paper Fig. 2a): fig2a.h5 + fig2a.png");
  std::string demo_out = "fig2a.h5", demo_plot = "fig2a.png";
  bool demo_no_plot = false;
  demo->add_option("-o,--output", demo_out, "HDF5 output path");
  demo->add_option("--plot", demo_plot, "PNG output path");
  demo->add_flag("--no-plot", demo_no_plot, "skip the plot");
  demo->add_flag("-q,--quiet", quiet, "no progress or summary on stderr");

  auto* info = app.add_subcommand("info", "Summarise an HDF5 result");
  std::string info_file;
  info->add_option("file", info_file, "qtraj HDF5 result")->required();

  auto* compare = app.add_subcommand(
      "compare", "Compare two results: largest deviation of <J_i^z>/N_i in standard errors");
  std::string cmp_a, cmp_b;
  double threshold = 4.0, abs_tol = 1e-6;
  compare->add_option("a", cmp_a, "first result (e.g. trajectories)")->required();
  compare->add_option("b", cmp_b, "second result (e.g. exact)")->required();
  compare->add_option("--threshold", threshold, "pass if every deviation is within this many "
                      "standard errors (default 4)");  // checked below: finite, > 0
  compare->add_option("--abs-tol", abs_tol, "absolute tolerance where both standard errors are "
                      "zero (default 1e-6)");  // checked below: finite, >= 0

  // qtraj merge SHARD.h5... -o OUT.h5: trajectory shards (solver.first_trajectory) into one result.
  auto* merge = app.add_subcommand(
      "merge", "Merge trajectory shards (disjoint solver.first_trajectory ranges) into one result");
  std::vector<std::string> merge_inputs;
  std::string merge_out;
  merge->add_option("shards", merge_inputs, "trajectory results of one model, grid and seed")->required();
  merge->add_option("-o,--output", merge_out, "merged HDF5 result")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // OpenBLAS's kernels, once, before any thread runs BLAS (the solvers never change them).
  qtraj::exact::initialize_blas();
  // Started by mpirun/srun: MPI for the whole of main (a plain start never touches MPI).
  std::unique_ptr<qtraj::backend::ParallelSession> parallel;
  try {
    parallel = std::make_unique<qtraj::backend::ParallelSession>(&argc, &argv);
  } catch (const std::exception& e) {
    std::cerr << "qtraj: error: " << e.what() << "\n";
    return 2;
  }
  qtraj::backend::Communicator& comm = parallel->comm();
  // One line per error, from rank 0 for errors all ranks agreed on; an error that only some
  // ranks of an MPI run saw takes all ranks down (no rank is left waiting).
  auto fail = [&comm](const std::string& message, int code, bool agreed) {
    if (!agreed || comm.rank() == 0) std::cerr << one_line(message) << "\n";
    if (!agreed && comm.size() > 1) comm.abort_all(code);
    return code;
  };

  try {
    // Values CLI11 lets through: empty strings, a threshold that is not a number.
    if (*run && out_option->count() > 0 && out_path.empty())
      throw qtraj::InputError("-o", "\"\"", "must not be empty");
    if (*run && solver_option->count() > 0 && solver_kind.empty())
      throw qtraj::InputError("--solver", "\"\"", "use exact | trajectories | meanfield | steady");
    if ((*demo && demo_out.empty()) || (*merge && merge_out.empty()))
      throw qtraj::InputError("-o", "\"\"", "must not be empty");
    if (*compare && !(std::isfinite(threshold) && threshold > 0))
      throw qtraj::InputError("--threshold", fmt::format("{}", threshold), "must be a finite number > 0");
    if (*compare && !(std::isfinite(abs_tol) && abs_tol >= 0))
      throw qtraj::InputError("--abs-tol", fmt::format("{}", abs_tol), "must be a finite number >= 0");
    if (*run) {
      if (!out_path.empty()) sets.push_back("output.path=" + toml_string(out_path));
      if (!solver_kind.empty()) sets.push_back("solver.kind=" + toml_string(solver_kind));
      qtraj::RunConfig config;
      std::exception_ptr load_error;  // the same on every MPI rank: reported once, by rank 0
      try {
        config = qtraj::load_run_config(run_file, sets);
        // --threads is applied after parsing, so it stays out of the stored config text and its
        // fingerprint: a run may resume with another thread count (trajectory results do not
        // depend on it).
        if (threads_option->count() > 0)
          config.solver.threads = qtraj::checked_thread_count(threads, "--threads");
      } catch (...) {
        load_error = std::current_exception();
      }
      qtraj::backend::agree_on_error(load_error, comm);
      config.output.resume = resume;
      return run_config(std::move(config), plot_path, quiet, comm);
    }
    if (*demo) {
      std::vector<std::string> demo_sets{
          "output.path=" + toml_string(demo_out),
          "output.plot=" + toml_string(demo_no_plot ? std::string() : demo_plot)};
      return run_config(qtraj::parse_run_config(qtraj::kDefaultRunFile, demo_sets, "embedded fig2a.toml"),
                        "", quiet, comm);
    }
    if (*info) {
      std::cout << qtraj::cli::describe(qtraj::read_result(info_file), info_file);
      return 0;
    }
    if (*merge) {
      qtraj::check_output_writable(merge_out);
      auto merged = qtraj::merge_trajectory_shards(merge_inputs);
      merged.config.output.path = merge_out;
      write_result_or_nothing(merge_out, merged.result, merged.config);
      std::cerr << "qtraj: merged " << merge_inputs.size() << " shards ("
                << std::get<std::int64_t>(merged.result.attributes.at("trajectories"))
                << " trajectories) into " << merge_out << "\n";
      return 0;
    }
    if (*compare) {
      const auto a = qtraj::read_result(cmp_a), b = qtraj::read_result(cmp_b);
      const auto c = qtraj::compare_results(a.result, b.result, threshold, abs_tol);
      std::cout << qtraj::cli::describe(c, cmp_a, cmp_b, threshold, abs_tol);
      return c.passed ? 0 : 1;
    }
  } catch (const qtraj::Interrupted& e) {
    return fail(std::string("qtraj: ") + e.what(), e.exit_code(), true);  // MPI: after agreeing
  } catch (const qtraj::backend::ParallelError& e) {
    return fail(std::string("qtraj: error: ") + e.what(), 2, true);
  } catch (const qtraj::Error& e) {
    return fail(std::string("qtraj: error: ") + e.what(), 2, false);
  } catch (const std::bad_alloc&) {
    return fail("qtraj: error: out of memory (reduce system.domains, time.points or "
                "solver.trajectories)", 2, false);
  } catch (const std::exception& e) {
    return fail(std::string("qtraj: error: ") + e.what(), 2, false);
  }
  return 0;
}
