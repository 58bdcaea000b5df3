#pragma once
// The HDF5 layout of a result file, in one place: the path of every dataset and root attribute,
// its shape rule and the text of the `description` attribute that every dataset carries, and the
// writers through which the solvers put their datasets into a Result (write_result in hdf5.hpp
// stores them, the contract part included, from here). README.md's "HDF5 layout" table lists the
// same paths; tests/io/layout_readme_test.cpp checks the two against each other both ways.
//
// Paths: datasets as HDF5 writes them ("/jz_over_n/mean"); a per-domain family with "<i>" for
// the 1-based domain ("/populations/domain_<i>"); root attributes as "/@name" ("/@solver").
// Shape rules: n_t output times, M domains, N_i spins of domain i, R reservoirs, n_jumps recorded
// jumps, W = 1 + the largest jump count of a trajectory, P pending checkpoint chunks.
// Checkpoint files hold a result plus their own datasets and attributes (namespace checkpoint).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qtraj/io/result.hpp"
#include "qtraj/model/model.hpp"
#include "qtraj/model/run_config.hpp"

namespace qtraj::layout {

/// One dataset (family) or root attribute of the layout.
struct Entry {
  std::string_view path;         // see the header comment
  std::string_view shape;        // shape rule of a dataset; type of an attribute
  std::string_view description;  // the dataset's description attribute (for the datasets whose
                                 // text names the solver, see Source: the common part)
  bool is_attribute() const { return path.substr(0, 2) == "/@"; }
  /// The HDF5 name: the dataset path, or the attribute name without "/@".
  std::string name() const { return std::string(is_attribute() ? path.substr(2) : path); }
};

// Contract datasets (every solver; write_result writes them from Result's tables).
inline constexpr Entry time{"/time", "n_t", "output times"};
inline constexpr Entry jz_over_n_mean{"/jz_over_n/mean", "n_t x M", "<J_i^z>/N_i, mean"};
inline constexpr Entry jz_over_n_stderr{
    "/jz_over_n/stderr", "n_t x M",
    "<J_i^z>/N_i, standard error of the mean (0 for deterministic solvers)"};
inline constexpr Entry excitations_mean{"/excitations/mean", "n_t x M",
                                        "excited spins per domain, <J_i^z> + N_i/2, mean"};
inline constexpr Entry excitations_stderr{
    "/excitations/stderr", "n_t x M",
    "excited spins per domain, standard error (0 for deterministic solvers)"};

// Further datasets.
inline constexpr Entry jplus_jminus_mean{"/jplus_jminus/mean", "n_t x M",
                                         "<J_i^+ J_i^->, the writing solver's estimate"};
inline constexpr Entry jplus_jminus_stderr{"/jplus_jminus/stderr", "n_t x M",
                                           "standard error of /jplus_jminus/mean"};
inline constexpr Entry jminus_mean{
    "/jminus/mean", "n_t x M x 2",
    "<J_i^-> (last axis: real, imaginary part), first-order closure of <J^z J^->; present only "
    "when an initial state breaks U(1) (coherent states)"};
inline constexpr Entry populations{"/populations/domain_<i>", "n_t x (N_i + 1)",
                                   "P(k excited spins in domain i)"};
inline constexpr Entry emitted_energy_mean{
    "/emitted_energy/mean", "n_t x R",
    "net quanta (units of hbar w0) emitted into each reservoir since t = 0"};
inline constexpr Entry emitted_quanta{
    "/emitted_quanta", "R",
    "quanta (units of hbar w0) carried away by each reservoir over t in [0, inf), R"};
inline constexpr Entry jump_counts_histogram{
    "/jump_counts/histogram", "R x W",
    "[r][k]: number of trajectories with exactly k jumps (emissions or absorptions) through "
    "reservoir r + 1"};
inline constexpr Entry jumps_trajectory{"/jumps/trajectory", "n_jumps",
                                        "0-based trajectory index of each recorded jump"};
inline constexpr Entry jumps_time{"/jumps/time", "n_jumps", "jump time in units of 1/gamma"};
inline constexpr Entry jumps_channel{"/jumps/channel", "n_jumps",
                                     "index into the collapse channels:"};  // + the channel list
inline constexpr Entry jumps_reservoir{"/jumps/reservoir", "n_jumps",
                                       "1-based reservoir of each recorded jump"};
// Local processes (docs/local.md): written only when the model has [[local]] rates.
inline constexpr Entry total_spin{
    "/total_spin/domain_<i>", "n_t x (floor(N_i/2) + 1)",
    "P(j_i), the total spin of domain i: column c holds j_i = (N_i mod 2)/2 + c (local processes)"};
inline constexpr Entry total_spin_stderr{"/total_spin/stderr_domain_<i>",
                                         "n_t x (floor(N_i/2) + 1)",
                                         "standard error of /total_spin/domain_<i> (trajectories)"};
inline constexpr Entry local_quanta_mean{
    "/local_quanta/mean", "n_t x M x 2",
    "quanta emitted through domain i's local emission ([..., 0]) and absorbed from its local "
    "pumping ([..., 1]) since t = 0"};
inline constexpr Entry local_quanta_stderr{"/local_quanta/stderr", "n_t x M x 2",
                                           "standard error of /local_quanta/mean (trajectories)"};
inline constexpr Entry jump_counts_local_mean{
    "/jump_counts/local_mean", "n_t x M x 3 x 3",
    "[t][i][p][d]: jumps per trajectory since t = 0 through domain i + 1's local process p "
    "(0 emission, 1 pumping, 2 dephasing) that took j_i to j_i + d - 1 (trajectories)"};
inline constexpr Entry jump_counts_local_stderr{
    "/jump_counts/local_stderr", "n_t x M x 3 x 3",
    "standard error of /jump_counts/local_mean (trajectories)"};
inline constexpr Entry jumps_local{
    "/jumps/local", "n_jumps x 4",
    "per recorded jump: 1-based domain of a local jump (0: a collective one), process (1 "
    "emission, 2 pumping, 3 dephasing; 0: collective), 2 j_i before and after (-1: collective)"};
inline constexpr Entry aggregator_mean{
    "/aggregator/mean", "n_t x 2M",
    "per time: trajectory means of <J_i^z> (cols 0..M-1) then <J_i^+ J_i^-> (cols M..2M-1)"};
inline constexpr Entry aggregator_m2{
    "/aggregator/m2", "n_t x 2M",
    "sums of squared deviations from /aggregator/mean (Welford M2), same layout"};

/// Root attributes ("/@name"); the shape field holds the type.
namespace attr {
// Every solver (write_result).
inline constexpr Entry solver{"/@solver", "string", "exact | steady | meanfield | trajectories"};
inline constexpr Entry config{"/@config", "string", "the run file's text"};
inline constexpr Entry qtraj_version{"/@qtraj_version", "string", "version that wrote the file"};
inline constexpr Entry domains{"/@domains", "int64[M]", "N_i, spins per domain"};
inline constexpr Entry initial{"/@initial", "string", "initial states, '; '-separated"};
inline constexpr Entry format_version{"/@format_version", "int64",
                                      "file format (kFormatVersion; absent: format 1)"};
// Exact solver.
inline constexpr Entry exact_steps{"/@exact_steps", "int64", "accepted steps"};
inline constexpr Entry exact_rejected_steps{"/@exact_rejected_steps", "int64", "rejected steps"};
inline constexpr Entry exact_gmres_iterations{"/@exact_gmres_iterations", "int64",
                                              "GMRES iterations (thermal runs)"};
inline constexpr Entry exact_components{"/@exact_components", "int64",
                                        "fixed-j component combinations integrated"};
inline constexpr Entry exact_integrator{"/@exact_integrator", "string", "integrator used"};
inline constexpr Entry exact_integrator_requested{"/@exact_integrator_requested", "string",
                                                  "solver.integrator"};
inline constexpr Entry exact_sweeps{"/@exact_sweeps", "int64",
                                    "implicit stages or resolvents, per component"};
inline constexpr Entry exact_dense_kernels{"/@exact_dense_kernels", "string",
                                           "where the dense products ran"};
// Steady solver.
inline constexpr Entry time_is_infinite{"/@time_is_infinite", "int64",
                                        "1: the one output time is t = inf"};
inline constexpr Entry steady_components{"/@steady_components", "int64",
                                         "fixed-j component combinations swept"};
inline constexpr Entry steady_dark_tolerance{"/@steady_dark_tolerance", "double",
                                             "relative eigenvalue below which a state is dark"};
inline constexpr Entry steady_max_dark_eigenvalue{"/@steady_max_dark_eigenvalue", "double",
                                                  "largest relative dark eigenvalue"};
inline constexpr Entry steady_min_bright_eigenvalue{"/@steady_min_bright_eigenvalue", "double",
                                                    "smallest relative bright eigenvalue"};
inline constexpr Entry steady_excitation_balance{"/@steady_excitation_balance", "double",
                                                 "n(0) - n(inf) - emitted (round-off)"};
inline constexpr Entry steady_trace{"/@steady_trace", "double", "trace of rho(inf)"};
// Mean-field solver.
inline constexpr Entry meanfield_closure{"/@meanfield_closure", "string", "closure used"};
inline constexpr Entry meanfield_closure_requested{"/@meanfield_closure_requested", "string",
                                                   "solver.closure"};
inline constexpr Entry meanfield_closure_auto{"/@meanfield_closure_auto", "string",
                                              "closure = auto: the choice and why"};
inline constexpr Entry meanfield_integrator{"/@meanfield_integrator", "string", "integrator"};
inline constexpr Entry meanfield_steps{"/@meanfield_steps", "int64", "accepted steps"};
inline constexpr Entry meanfield_rejected_steps{"/@meanfield_rejected_steps", "int64",
                                                "rejected steps"};
inline constexpr Entry meanfield_seconds{"/@meanfield_seconds", "double", "integration time"};
// Trajectory solver (and `qtraj merge`).
inline constexpr Entry trajectories{"/@trajectories", "int64", "trajectories run"};
inline constexpr Entry first_trajectory{"/@first_trajectory", "int64", "index of the first"};
inline constexpr Entry seed{"/@seed", "int64", "random seed"};
inline constexpr Entry propagator{"/@propagator", "string", "propagator used"};
inline constexpr Entry record_jumps{"/@record_jumps", "int64",
                                    "trajectories whose jumps are in /jumps"};
inline constexpr Entry backend{"/@backend", "string", "cpu | cuda | merged"};
inline constexpr Entry setup_eigensystems{"/@setup_eigensystems", "string",
                                          "cuda, spectral: where the eigensystems were solved"};
inline constexpr Entry mpi_ranks{"/@mpi_ranks", "int64", "MPI runs: ranks"};
inline constexpr Entry local_blocks{"/@local_blocks", "int64",
                                    "trajectories with local processes: total-spin blocks "
                                    "entered by a jump (bundles built)"};
inline constexpr Entry resumed_chunks{"/@resumed_chunks", "int64",
                                      "resumed runs: chunks restored from the checkpoint"};
inline constexpr Entry aggregator_count{"/@aggregator_count", "int64",
                                        "trajectories in /aggregator (Welford count)"};
inline constexpr Entry merged_shards{"/@merged_shards", "int64", "qtraj merge: shards merged"};
inline constexpr Entry merged_ranges{"/@merged_ranges", "string",
                                     "qtraj merge: their trajectory ranges"};
}  // namespace attr

/// A checkpoint file's own datasets and root attributes (src/trajectory/checkpoint.cpp).
namespace checkpoint {
inline constexpr Entry pending_chunks{"/checkpoint/pending_chunks", "P",
                                      "finished chunks after the merged prefix"};
inline constexpr Entry pending_counts{"/checkpoint/pending_counts", "P",
                                      "their trajectory counts"};
inline constexpr Entry pending_mean{"/checkpoint/pending_mean", "P x n_t*2M",
                                    "their Welford means (layout of /aggregator/mean)"};
inline constexpr Entry pending_m2{"/checkpoint/pending_m2", "P x n_t*2M", "their Welford M2"};
inline constexpr Entry prefix_histogram{
    "/checkpoint/prefix_histogram", "R x W",
    "jump-count histogram of the merged prefix (layout of /jump_counts/histogram)"};
inline constexpr Entry pending_histogram{"/checkpoint/pending_histogram", "P x R x W",
                                         "jump-count histograms of the pending chunks"};
inline constexpr Entry folded_chunks{"/@checkpoint_folded_chunks", "int64",
                                     "chunks merged into /aggregator"};
inline constexpr Entry num_chunks{"/@checkpoint_num_chunks", "int64", "chunks of the run"};
inline constexpr Entry fingerprint{"/@checkpoint_fingerprint", "string",
                                   "FNV-1a hash of the run file's text"};
inline constexpr Entry checksum{"/@checkpoint_checksum", "string",
                                "FNV-1a hash of everything --resume restores"};
}  // namespace checkpoint

/// The format of the files write_result writes (root attribute format_version):
///   1: files without the attribute (qtraj before it): variable-length strings, no checksums;
///   2: HDF5 1.10 file format (checksummed metadata), fixed-length strings, fletcher32 on every
///      dataset with values; checkpoints carry checkpoint_checksum.
/// The reader (include/qtraj/io/result_reader.hpp) reads both and refuses later formats.
inline constexpr std::int64_t kFormatVersion = 2;

/// Every dataset and root attribute a result file can hold (checkpoint entries excluded).
const std::vector<Entry>& result_entries();
/// The checkpoint's own datasets and attributes.
const std::vector<Entry>& checkpoint_entries();
/// The groups of result_entries(), e.g. "/jz_over_n" (parents of the dataset paths).
std::vector<std::string> result_groups();
/// The entry of a dataset path or "/@name" among result and checkpoint entries; a member of a
/// family ("/populations/domain_3") finds the family. Null if the layout has none.
const Entry* find(std::string_view path);

/// The path of family member i (0-based domain): "/populations/domain_<i + 1>".
std::string domain_path(const Entry& family, int domain);

/// Who wrote a dataset whose description names the solver.
enum class Source { exact, steady, trajectories, meanfield_second_order, meanfield_fourth_order };

// ----- writers: each appends to result.extra (or sets a root attribute) -----

/// /time and the four contract tables with their attributes, for write_result.
std::vector<Dataset> contract_datasets(const Result& result);
/// The root attributes every file has (solver, config, qtraj_version, domains, initial,
/// format_version), in the order write_result writes them.
std::vector<std::pair<std::string, AttributeValue>> contract_attributes(const Result& result,
                                                                        const RunConfig& config);

/// Sets root attribute `a` (an attr:: or checkpoint:: entry).
void set(Result& result, const Entry& a, AttributeValue value);
/// A dataset of `entry` with its fixed description (not for the Source-dependent ones).
void add(Result& result, const Entry& entry, std::vector<std::uint64_t> shape,
         std::vector<double> values);
void add(Result& result, const Entry& entry, std::vector<std::uint64_t> shape,
         std::vector<std::int64_t> values);

/// Family member `domain` (0-based) of `family` with the family's description.
void add_domain(Result& result, const Entry& family, int domain, std::vector<std::uint64_t> shape,
                std::vector<double> values);
/// /jplus_jminus/mean, described as `source` computes it (rows: times; steady: 1 row).
void add_jplus_jminus_mean(Result& result, Table values, Source source);
/// /populations/domain_<domain + 1> of the exact or steady solver.
void add_populations(Result& result, int domain, Table values, Source source);
/// /emitted_energy/mean of the exact or steady solver.
void add_emitted_energy(Result& result, Table values, Source source);
/// /jumps/{trajectory,time,channel,reservoir} (one entry per recorded jump); the channel's
/// description lists `channels`. A channel outside them (a local jump) has reservoir 0.
void add_jump_records(Result& result, std::vector<std::int64_t> trajectory,
                      std::vector<double> time, std::vector<std::int64_t> channel,
                      const std::vector<Channel>& channels);

}  // namespace qtraj::layout
