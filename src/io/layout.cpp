// The HDF5 result layout (include/qtraj/io/layout.hpp): the entry lists and the writers.
#include "qtraj/io/layout.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "qtraj/version.hpp"

namespace qtraj::layout {
namespace {

template <class T>
void push(Result& result, std::string path, std::vector<std::uint64_t> shape, std::vector<T> values,
          std::string description) {
  Dataset d;
  d.path = std::move(path);
  d.shape = std::move(shape);
  d.values = std::move(values);
  d.attributes["description"] = std::move(description);
  result.extra.push_back(std::move(d));
}

std::vector<std::uint64_t> table_shape(const Table& t) { return {t.rows, t.cols}; }

// The datasets whose description names the writing solver (written by their own writers).
bool source_dependent(const Entry& e) {
  for (const Entry* s : {&jplus_jminus_mean, &populations, &emitted_energy_mean, &jumps_channel})
    if (e.path == s->path) return true;
  return false;
}

template <class T>
void add_fixed(Result& result, const Entry& entry, std::vector<std::uint64_t> shape,
               std::vector<T> values) {
  if (entry.is_attribute() || source_dependent(entry))
    throw std::logic_error("layout::add: " + entry.name() + " has its own writer");
  push(result, entry.name(), std::move(shape), std::move(values), std::string(entry.description));
}

// "/populations/domain_<i>" -> ("/populations/domain_", "").
std::pair<std::string_view, std::string_view> family_parts(const Entry& e) {
  const auto at = e.path.find("<i>");
  if (at == std::string_view::npos) return {e.path, {}};
  return {e.path.substr(0, at), e.path.substr(at + 3)};
}

bool matches(const Entry& e, std::string_view path) {
  const auto [head, tail] = family_parts(e);
  if (head.size() == e.path.size()) return path == e.path;
  if (path.size() <= head.size() + tail.size() || path.substr(0, head.size()) != head ||
      path.substr(path.size() - tail.size()) != tail)
    return false;
  const std::string_view digits = path.substr(head.size(), path.size() - head.size() - tail.size());
  return digits.find_first_not_of("0123456789") == std::string_view::npos && digits[0] != '0';
}

}  // namespace

const std::vector<Entry>& result_entries() {
  static const std::vector<Entry> entries{
      time, jz_over_n_mean, jz_over_n_stderr, excitations_mean, excitations_stderr,
      jplus_jminus_mean, jplus_jminus_stderr, jminus_mean, populations,
      emitted_energy_mean,
      emitted_quanta, jump_counts_histogram, jumps_trajectory, jumps_time, jumps_channel,
      jumps_reservoir, total_spin, total_spin_stderr, local_quanta_mean, local_quanta_stderr,
      jump_counts_local_mean, jump_counts_local_stderr, jumps_local, aggregator_mean, aggregator_m2,
      attr::solver, attr::config, attr::qtraj_version, attr::domains, attr::initial,
      attr::format_version,
      attr::exact_steps, attr::exact_rejected_steps, attr::exact_gmres_iterations,
      attr::exact_components, attr::exact_integrator, attr::exact_integrator_requested,
      attr::exact_sweeps, attr::exact_dense_kernels,
      attr::time_is_infinite, attr::steady_components, attr::steady_dark_tolerance,
      attr::steady_max_dark_eigenvalue, attr::steady_min_bright_eigenvalue,
      attr::steady_excitation_balance, attr::steady_trace,
      attr::meanfield_closure, attr::meanfield_closure_requested, attr::meanfield_closure_auto,
      attr::meanfield_integrator, attr::meanfield_steps, attr::meanfield_rejected_steps,
      attr::meanfield_seconds,
      attr::trajectories, attr::first_trajectory, attr::seed, attr::propagator,
      attr::record_jumps, attr::backend, attr::setup_eigensystems, attr::mpi_ranks,
      attr::local_blocks, attr::resumed_chunks, attr::aggregator_count, attr::merged_shards, attr::merged_ranges};
  return entries;
}

const std::vector<Entry>& checkpoint_entries() {
  static const std::vector<Entry> entries{
      checkpoint::pending_chunks, checkpoint::pending_counts, checkpoint::pending_mean,
      checkpoint::pending_m2, checkpoint::prefix_histogram, checkpoint::pending_histogram,
      checkpoint::folded_chunks, checkpoint::num_chunks, checkpoint::fingerprint,
      checkpoint::checksum};
  return entries;
}

std::vector<std::string> result_groups() {
  std::vector<std::string> groups;
  for (const Entry& e : result_entries()) {
    if (e.is_attribute()) continue;
    const auto slash = e.path.rfind('/');
    if (slash == 0) continue;
    std::string g(e.path.substr(0, slash));
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  }
  return groups;
}

const Entry* find(std::string_view path) {
  for (const auto* list : {&result_entries(), &checkpoint_entries()})
    for (const Entry& e : *list)
      if (matches(e, path)) return &e;
  return nullptr;
}

std::string domain_path(const Entry& family, int domain) {
  const auto [head, tail] = family_parts(family);
  if (head.size() == family.path.size())
    throw std::logic_error("layout::domain_path: " + family.name() + " is not a family");
  return std::string(head) + std::to_string(domain + 1) + std::string(tail);
}

std::vector<Dataset> contract_datasets(const Result& result) {
  std::vector<Dataset> out;
  auto dataset = [&](const Entry& e, std::vector<std::uint64_t> shape, std::vector<double> values,
                     const char* key, const char* value) {
    Dataset d;
    d.path = e.name();
    d.shape = std::move(shape);
    d.values = std::move(values);
    d.attributes = {{"description", std::string(e.description)}, {key, value}};
    out.push_back(std::move(d));
  };
  dataset(time, {result.time.size()}, result.time, "units", "1/gamma (the paper plots gamma t / 2)");
  for (const auto& [e, t] : {std::pair<const Entry*, const Table*>{&jz_over_n_mean, &result.jz_over_n_mean},
                             {&jz_over_n_stderr, &result.jz_over_n_stderr},
                             {&excitations_mean, &result.excitations_mean},
                             {&excitations_stderr, &result.excitations_stderr}})
    dataset(*e, table_shape(*t), t->data, "shape", "time x domain");
  return out;
}

std::vector<std::pair<std::string, AttributeValue>> contract_attributes(const Result& result,
                                                                        const RunConfig& config) {
  std::string initial_text;
  for (const auto& s : config.model.initial)
    initial_text += (initial_text.empty() ? "" : "; ") + s.to_string();
  return {{attr::solver.name(), result.solver},
          {attr::config.name(), config.text},
          {attr::qtraj_version.name(), std::string(kVersion)},
          {attr::domains.name(),
           std::vector<std::int64_t>(config.model.spins.begin(), config.model.spins.end())},
          {attr::initial.name(), initial_text},
          {attr::format_version.name(), kFormatVersion}};
}

void set(Result& result, const Entry& a, AttributeValue value) {
  if (!a.is_attribute()) throw std::logic_error("layout::set: " + a.name() + " is a dataset");
  result.attributes[a.name()] = std::move(value);
}

void add(Result& result, const Entry& entry, std::vector<std::uint64_t> shape,
         std::vector<double> values) {
  add_fixed(result, entry, std::move(shape), std::move(values));
}

void add(Result& result, const Entry& entry, std::vector<std::uint64_t> shape,
         std::vector<std::int64_t> values) {
  add_fixed(result, entry, std::move(shape), std::move(values));
}

void add_domain(Result& result, const Entry& family, int domain, std::vector<std::uint64_t> shape,
                std::vector<double> values) {
  if (source_dependent(family))
    throw std::logic_error("layout::add_domain: " + family.name() + " has its own writer");
  push(result, domain_path(family, domain), std::move(shape), std::move(values),
       std::string(family.description));
}

void add_jplus_jminus_mean(Result& result, Table values, Source source) {
  const char* text = "";
  switch (source) {
    case Source::exact: text = "<J_i^+ J_i^->, n_t x M"; break;
    case Source::steady: text = "<J_i^+ J_i^-> at t = inf, 1 x M"; break;
    case Source::trajectories:
      text = "trajectory mean of <J_i^+ J_i^->, rows = time, cols = domain";
      break;
    case Source::meanfield_second_order:
      text = "<J_i^+ J_i^-> from the second-order cumulant equations (rows: times, cols: domains)";
      break;
    case Source::meanfield_fourth_order:
      text = "<J_i^+ J_i^-> from the fourth-order cumulant equations (rows: times, cols: domains)";
      break;
  }
  push(result, jplus_jminus_mean.name(), table_shape(values), std::move(values.data), text);
}

void add_populations(Result& result, int domain, Table values, Source source) {
  if (source != Source::exact && source != Source::steady)
    throw std::logic_error("layout::add_populations: exact or steady solver only");
  const std::string i = std::to_string(domain + 1);
  const std::string text = source == Source::exact
                               ? "P(k excited spins in domain " + i + "), n_t x (N_i + 1)"
                               : "P(k excited spins in domain " + i + ") at t = inf, 1 x (N_i + 1)";
  push(result, domain_path(populations, domain), table_shape(values), std::move(values.data), text);
}

void add_emitted_energy(Result& result, Table values, Source source) {
  if (source != Source::exact && source != Source::steady)
    throw std::logic_error("layout::add_emitted_energy: exact or steady solver only");
  const std::string text =
      source == Source::exact
          ? std::string(emitted_energy_mean.description) + ", n_t x R"
          : "the same as " + emitted_quanta.name() + ", in the exact solver's layout (t = inf), 1 x R";
  push(result, emitted_energy_mean.name(), table_shape(values), std::move(values.data), text);
}

void add_jump_records(Result& result, std::vector<std::int64_t> trajectory,
                      std::vector<double> time_of_jump, std::vector<std::int64_t> channel,
                      const std::vector<Channel>& channels) {
  std::vector<std::int64_t> reservoir;
  for (std::int64_t c : channel)
    reservoir.push_back(c >= 0 && c < static_cast<std::int64_t>(channels.size())
                            ? channels[c].reservoir + 1
                            : 0);
  const std::vector<std::uint64_t> shape{trajectory.size()};
  std::ostringstream chdesc;
  chdesc << jumps_channel.description;
  for (std::size_t c = 0; c < channels.size(); ++c)
    chdesc << " " << c << " = reservoir " << channels[c].reservoir + 1
           << (channels[c].raising ? " absorption (L^+)" : " emission (L^-)") << ";";
  add(result, jumps_trajectory, shape, std::move(trajectory));
  add(result, jumps_time, shape, std::move(time_of_jump));
  push(result, jumps_channel.name(), shape, std::move(channel), chdesc.str());
  add(result, jumps_reservoir, shape, std::move(reservoir));
}

}  // namespace qtraj::layout
