// TOML run files (toml++). Every error names the field and the value, in one line.
#include "qtraj/model/run_config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <toml++/toml.h>

#include <filesystem>
#include <fmt/format.h>

#include "qtraj/error.hpp"
#include "qtraj/trajectory/propagators.hpp"

namespace qtraj {

int resolve_thread_count(int requested) {
  return requested > 0 ? requested
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int checked_thread_count(std::int64_t threads, const std::string& field) {
  if (threads < 0 || threads > 4096)
    throw InputError(field, std::to_string(threads), "must lie in 0..4096 (0: all cores)");
  return static_cast<int>(threads);
}
namespace {

std::string show(const toml::node& node) {
  std::ostringstream out;
  if (auto s = node.as_string()) {
    out << '"' << s->get() << '"';
  } else if (node.is_table()) {
    out << "a table";
  } else {
    node.visit([&](auto&& n) { out << n; });
  }
  std::string text = out.str();
  for (auto& c : text)
    if (c == '\n') c = ' ';
  return text;
}

void reject_unknown_keys(const toml::table& table, const std::string& prefix,
                         const std::set<std::string>& allowed) {
  for (auto&& [key, value] : table) {
    if (!allowed.count(std::string(key.str()))) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw InputError(prefix + std::string(key.str()), show(value),
                       "unknown key (allowed here: " + list + ")");
    }
  }
}

const toml::table* sub_table(const toml::table& root, const std::string& name) {
  const toml::node* node = root.get(name);
  if (!node) return nullptr;
  if (!node->is_table()) throw InputError(name, show(*node), "must be a table [" + name + "]");
  return node->as_table();
}

double get_double(const toml::table& t, const std::string& key, const std::string& field,
                  double fallback) {
  const toml::node* node = t.get(key);
  if (!node) return fallback;
  if (auto v = node->value<double>(); v && (node->is_floating_point() || node->is_integer()))
    return *v;
  throw InputError(field, show(*node), "must be a number");
}

std::int64_t get_int(const toml::table& t, const std::string& key, const std::string& field,
                     std::int64_t fallback) {
  const toml::node* node = t.get(key);
  if (!node) return fallback;
  if (node->is_integer()) return node->as_integer()->get();
  if (node->is_floating_point()) {
    const double d = node->as_floating_point()->get();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
      return static_cast<std::int64_t>(d);
  }
  throw InputError(field, show(*node), "must be an integer");
}

std::string get_string(const toml::table& t, const std::string& key, const std::string& field,
                       const std::string& fallback) {
  const toml::node* node = t.get(key);
  if (!node) return fallback;
  if (auto s = node->as_string()) return s->get();
  throw InputError(field, show(*node), "must be a string");
}

// solver.memory_limit: bytes as a positive number, or a string "<number> <unit>" with unit
// B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024).
std::int64_t get_memory_limit(const toml::table& t, const std::string& field) {
  const toml::node* node = t.get("memory_limit");
  if (!node) return 0;
  double bytes = -1;
  if (node->is_integer() || node->is_floating_point()) {
    bytes = *node->value<double>();
  } else if (auto s = node->as_string()) {
    const std::string text = s->get();
    std::size_t used = 0;
    double number = -1;
    try {
      number = std::stod(text, &used);
    } catch (const std::exception&) {
      throw InputError(field, show(*node), "must be bytes or \"<number> <unit>\" (B, kB, MB, GB, "
                                           "TB, KiB, MiB, GiB, TiB)");
    }
    std::string unit = text.substr(used);
    unit.erase(0, unit.find_first_not_of(' '));
    const std::pair<const char*, double> units[] = {
        {"", 1.0}, {"B", 1.0}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
    double scale = -1;
    for (const auto& [name, factor] : units)
      if (unit == name) scale = factor;
    if (scale < 0)
      throw InputError(field, show(*node), "unknown unit (use B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)");
    bytes = number * scale;
  } else {
    throw InputError(field, show(*node), "must be bytes or a string such as \"8 GiB\"");
  }
  if (!(bytes >= 1) || !(bytes < 9e18))
    throw InputError(field, show(*node), "must be at least 1 byte (and below 9e18)");
  return static_cast<std::int64_t>(bytes);
}

std::string get_choice(const toml::table& t, const std::string& key, const std::string& field,
                       const std::string& fallback, const std::set<std::string>& choices) {
  std::string v = get_string(t, key, field, fallback);
  if (!choices.count(v)) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : " | ") + c;
    throw InputError(field, "\"" + v + "\"", "must be one of " + list);
  }
  return v;
}

// Applies "a.b.c=value" to the parsed tree. The value is TOML ("3", "[1, 2]", "\"x\""); a bare
// word that is not valid TOML is taken as a string. An integer segment indexes an array 1-based
// (e.g. reservoir.2.gamma=0.5).
void apply_override(toml::table& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set", "\"" + assignment + "\"", "expected key=value");
  const std::string path = assignment.substr(0, eq), raw = assignment.substr(eq + 1);
  toml::table holder;
  try {
    holder = toml::parse("v = " + raw);
  } catch (const toml::parse_error&) {
    holder = toml::table{{"v", raw}};
  }
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  toml::node* cursor = &root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (auto* tbl = cursor->as_table()) {
      if (!tbl->contains(p)) tbl->insert(p, toml::table{});
      cursor = tbl->get(p);
    } else if (auto* arr = cursor->as_array()) {
      char* end = nullptr;
      long idx = std::strtol(p.c_str(), &end, 10);
      if (*end || idx < 1 || idx > static_cast<long>(arr->size()))
        throw InputError("--set " + path, p, "no such array element");
      cursor = arr->get(idx - 1);
    } else {
      throw InputError("--set " + path, p, "is not a table");
    }
  }
  auto* tbl = cursor->as_table();
  if (!tbl) throw InputError("--set " + path, raw, "parent is not a table");
  tbl->insert_or_assign(parts.back(), *holder.get("v"));
}

// [[local]] tables (docs/local.md): domains (1-based; omitted: every domain), emission, pumping,
// dephasing (rates >= 0, default 0). Errors name local[k].<key>.
std::vector<LocalTable> parse_local_tables(const toml::table& root, int num_domains) {
  std::vector<LocalTable> tables;
  const toml::node* node = root.get("local");
  if (!node) return tables;
  const toml::array* list = node->as_array();
  if (!list || !list->is_array_of_tables())
    throw InputError("local", show(*node), "must be an array of tables [[local]]");
  for (std::size_t k = 0; k < list->size(); ++k) {
    const toml::table& t = *list->get(k)->as_table();
    const std::string f = "local[" + std::to_string(k + 1) + "]";
    reject_unknown_keys(t, f + ".", {"domains", "emission", "pumping", "dephasing"});
    LocalTable table;
    if (const toml::node* d = t.get("domains")) {
      if (!d->as_array() || d->as_array()->empty())
        throw InputError(f + ".domains", show(*d), "must be a non-empty list of 1-based domain indices");
      for (auto&& e : *d->as_array()) {
        if (!e.is_integer()) throw InputError(f + ".domains", show(e), "must be integers");
        const std::int64_t idx = e.as_integer()->get();
        if (idx < 1 || idx > num_domains)
          throw InputError(f + ".domains", std::to_string(idx),
                           "no such domain (domains are 1.." + std::to_string(num_domains) + ")");
        table.domains.push_back(static_cast<int>(idx - 1));
      }
    } else {
      for (int i = 0; i < num_domains; ++i) table.domains.push_back(i);
    }
    table.emission = get_double(t, "emission", f + ".emission", 0.0);
    table.pumping = get_double(t, "pumping", f + ".pumping", 0.0);
    table.dephasing = get_double(t, "dephasing", f + ".dephasing", 0.0);
    tables.push_back(std::move(table));
  }
  return tables;
}

Model parse_model(const toml::table& root) {
  Model model;
  const toml::table* system = sub_table(root, "system");
  if (!system) throw InputError("system", "", "missing table [system]");
  reject_unknown_keys(*system, "system.", {"domains", "initial"});
  const toml::node* domains = system->get("domains");
  if (!domains) throw InputError("system.domains", "", "missing (list of spins per domain)");
  const toml::array* arr = domains->as_array();
  if (!arr) throw InputError("system.domains", show(*domains), "must be a list of integers");
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& n = *arr->get(i);
    const std::string field = "system.domains[" + std::to_string(i + 1) + "]";
    std::int64_t v;
    if (n.is_integer()) {
      v = n.as_integer()->get();
    } else if (n.is_floating_point() && std::isfinite(n.as_floating_point()->get()) &&
               n.as_floating_point()->get() == std::floor(n.as_floating_point()->get()) &&
               std::fabs(n.as_floating_point()->get()) < 9e15) {
      v = static_cast<std::int64_t>(n.as_floating_point()->get());  // allows 1e8
    } else {
      throw InputError(field, show(n), "must be an integer");
    }
    if (v <= 0) throw InputError(field, std::to_string(v), "the number of spins must be positive");
    model.spins.push_back(v);
  }
  if (model.spins.empty()) throw InputError("system.domains", "[]", "at least one domain is needed");

  const toml::node* initial = system->get("initial");
  if (!initial) {
    // Default: first domain excited, the rest in the ground state (the paper's set-up).
    for (std::size_t i = 0; i < model.spins.size(); ++i)
      model.initial.push_back(InitialState::parse(i == 0 ? "excited" : "ground", model.spins[i], ""));
  } else {
    const toml::array* init = initial->as_array();
    if (!init) throw InputError("system.initial", show(*initial), "must be a list of strings");
    if (init->size() != model.spins.size())
      throw InputError("system.initial", std::to_string(init->size()) + " entries",
                       "needs one entry per domain (" + std::to_string(model.spins.size()) + ")");
    for (std::size_t i = 0; i < init->size(); ++i) {
      const std::string field = "system.initial[" + std::to_string(i + 1) + "]";
      const auto* s = init->get(i)->as_string();
      if (!s) throw InputError(field, show(*init->get(i)), "must be a string");
      model.initial.push_back(InitialState::parse(s->get(), model.spins[i], field));
    }
  }

  if (const toml::node* res = root.get("reservoir")) {
    const toml::array* list = res->as_array();
    if (!list || !list->is_array_of_tables())
      throw InputError("reservoir", show(*res), "must be an array of tables [[reservoir]]");
    for (std::size_t r = 0; r < list->size(); ++r) {
      const toml::table& t = *list->get(r)->as_table();
      const std::string f = "reservoir[" + std::to_string(r + 1) + "]";
      reject_unknown_keys(t, f + ".", {"domains", "gamma", "nbar"});
      Reservoir reservoir;
      const toml::node* d = t.get("domains");
      if (!d || !d->as_array())
        throw InputError(f + ".domains", d ? show(*d) : "", "must be a list of 1-based domain indices");
      for (auto&& e : *d->as_array()) {
        if (!e.is_integer()) throw InputError(f + ".domains", show(e), "must be integers");
        const std::int64_t idx = e.as_integer()->get();
        if (idx < 1 || idx > static_cast<std::int64_t>(model.spins.size()))
          throw InputError(f + ".domains", std::to_string(idx),
                           "no such domain (domains are 1.." + std::to_string(model.spins.size()) + ")");
        reservoir.domains.push_back(static_cast<int>(idx - 1));
      }
      reservoir.gamma = get_double(t, "gamma", f + ".gamma", 1.0);
      reservoir.nbar = get_double(t, "nbar", f + ".nbar", 0.0);
      model.reservoirs.push_back(reservoir);
    }
  } else {
    model.reservoirs = Model::default_chain(model.num_domains());
  }
  model.local = parse_local_tables(root, model.num_domains());
  model.validate();
  return model;
}

TimeGrid parse_time(const toml::table& root) {
  TimeGrid grid;
  const toml::table* t = sub_table(root, "time");
  if (!t) return grid;
  reject_unknown_keys(*t, "time.", {"end", "points", "spacing", "start"});
  grid.end = get_double(*t, "end", "time.end", grid.end);
  if (!(grid.end > 0) || !std::isfinite(grid.end))
    throw InputError("time.end", fmt::format("{}", grid.end), "must be finite and > 0");
  const std::int64_t points = get_int(*t, "points", "time.points", grid.points);
  if (points < 2 || points > 100'000'000)
    throw InputError("time.points", std::to_string(points), "must lie in 2..1e8");
  grid.points = static_cast<int>(points);
  const std::string spacing = get_choice(*t, "spacing", "time.spacing", "linear", {"linear", "log"});
  grid.spacing = spacing == "log" ? TimeGrid::Spacing::log : TimeGrid::Spacing::linear;
  if (grid.spacing == TimeGrid::Spacing::log) {
    if (!t->contains("start"))
      throw InputError("time.start", "", "required with spacing = \"log\" (first time > 0)");
    grid.start = get_double(*t, "start", "time.start", 0.0);
    if (!(grid.start > 0) || !(grid.start < grid.end))
      throw InputError("time.start", fmt::format("{}", grid.start), "must satisfy 0 < start < end");
    if (grid.points < 3)
      throw InputError("time.points", std::to_string(grid.points), "log spacing needs >= 3 points");
  }  // linear spacing ignores `start` (so `--set time.spacing="linear"` works on a log run file)
  return grid;
}

SolverSettings parse_solver(const toml::table& root) {
  SolverSettings s;
  const toml::table* t = sub_table(root, "solver");
  if (!t) return s;
  reject_unknown_keys(*t, "solver.", {"kind", "rtol", "atol", "trajectories", "seed", "propagator",
                                      "backend", "threads", "record_jumps", "first_trajectory",
                                      "closure", "memory_limit", "batch_sectors", "integrator"});
  s.kind = get_choice(*t, "kind", "solver.kind", s.kind,
                      {"exact", "trajectories", "meanfield", "steady"});
  s.rtol = get_double(*t, "rtol", "solver.rtol", s.rtol);
  if (!(s.rtol >= 1e-14 && s.rtol < 1))
    throw InputError("solver.rtol", fmt::format("{}", s.rtol), "must lie in [1e-14, 1)");
  s.atol = get_double(*t, "atol", "solver.atol", s.atol);
  if (!(s.atol > 0 && s.atol < 1)) throw InputError("solver.atol", fmt::format("{}", s.atol), "must lie in (0, 1)");
  s.trajectories = get_int(*t, "trajectories", "solver.trajectories", s.trajectories);
  if (s.trajectories < 1)
    throw InputError("solver.trajectories", std::to_string(s.trajectories), "must be >= 1");
  const std::int64_t seed = get_int(*t, "seed", "solver.seed", 1);
  if (seed < 0) throw InputError("solver.seed", std::to_string(seed), "must be >= 0");
  s.seed = static_cast<std::uint64_t>(seed);
  std::set<std::string> propagators{"auto"};  // "auto" is resolved by the trajectory solver
  for (trajectory::PropagatorKind k : trajectory::kPropagatorKinds)
    propagators.insert(trajectory::propagator_name(k));
  s.propagator = get_choice(*t, "propagator", "solver.propagator", s.propagator, propagators);
  s.memory_limit = get_memory_limit(*t, "solver.memory_limit");
  s.backend = get_choice(*t, "backend", "solver.backend", s.backend, {"cpu", "cuda"});
  s.threads = checked_thread_count(get_int(*t, "threads", "solver.threads", 0), "solver.threads");
  s.record_jumps = get_int(*t, "record_jumps", "solver.record_jumps", 0);
  if (s.record_jumps < 0)
    throw InputError("solver.record_jumps", std::to_string(s.record_jumps), "must be >= 0");
  s.first_trajectory = get_int(*t, "first_trajectory", "solver.first_trajectory", 0);
  if (s.first_trajectory < 0)
    throw InputError("solver.first_trajectory", std::to_string(s.first_trajectory), "must be >= 0");
  s.batch_sectors = get_choice(*t, "batch_sectors", "solver.batch_sectors", s.batch_sectors,
                               {"auto", "on", "off"});
  // meanfield only; the names of qtraj::meanfield::parse_closure plus "auto"
  s.closure = get_choice(*t, "closure", "solver.closure", s.closure,
                         {"auto", "symmetric", "z_right", "z_left", "fourth_order"});
  // exact only
  s.integrator = get_choice(*t, "integrator", "solver.integrator", s.integrator,
                            {"auto", "esdirk", "laplace"});
  return s;
}

OutputSettings parse_output(const toml::table& root) {
  OutputSettings o;
  const toml::table* t = sub_table(root, "output");
  if (!t) return o;
  reject_unknown_keys(*t, "output.", {"path", "plot", "checkpoint_seconds"});
  o.path = get_string(*t, "path", "output.path", o.path);
  if (o.path.empty()) throw InputError("output.path", "\"\"", "must not be empty");
  o.plot = get_string(*t, "plot", "output.plot", o.plot);
  o.checkpoint_seconds = get_double(*t, "checkpoint_seconds", "output.checkpoint_seconds",
                                    o.checkpoint_seconds);
  if (!(o.checkpoint_seconds >= 0) || !std::isfinite(o.checkpoint_seconds))
    throw InputError("output.checkpoint_seconds", fmt::format("{}", o.checkpoint_seconds),
                     "must be finite and >= 0 (0: no checkpoints)");
  return o;
}

}  // namespace

RunConfig parse_run_config(const std::string& text, const std::vector<std::string>& overrides,
                           const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    std::string msg(e.description());
    throw InputError(source_name + ":" + std::to_string(e.source().begin.line), "",
                     "malformed TOML: " + msg);
  }
  for (const auto& o : overrides) apply_override(root, o);
  reject_unknown_keys(root, "", {"system", "reservoir", "local", "time", "solver", "output"});
  RunConfig config;
  config.model = parse_model(root);
  config.time = parse_time(root);
  config.solver = parse_solver(root);
  config.output = parse_output(root);
  if (overrides.empty()) {
    config.text = text;
  } else {
    std::ostringstream out;
    out << "# run file " << source_name << " with --set";
    for (const auto& o : overrides) out << " " << o;
    out << "\n" << root << "\n";
    config.text = out.str();
  }
  return config;
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw IoError(path + ": cannot read the run file (not a regular file)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot read the run file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_run_config(text.str(), overrides, path);
}

}  // namespace qtraj
