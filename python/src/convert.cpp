// Results to Python: datasets as numpy arrays (copies owned by the array), attributes as values.
#include "convert.hpp"

#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <variant>

#include "qtraj/error.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/version.hpp"

namespace nb = nanobind;

namespace qtraj::python {
namespace {

template <typename T>
nb::object to_array(const std::vector<T>& values, const std::vector<std::uint64_t>& shape) {
  auto* owned = new std::vector<T>(values);
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  std::vector<size_t> dims(shape.begin(), shape.end());
  return nb::cast(nb::ndarray<nb::numpy, T>(owned->data(), dims.size(), dims.data(), owner));
}

nb::object to_array(const Dataset& d) {
  return std::visit([&](const auto& v) { return to_array(v, d.shape); }, d.values);
}

nb::object to_python(const AttributeValue& value) {
  return std::visit(
      [](const auto& v) -> nb::object {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::vector<std::int64_t>> ||
                      std::is_same_v<T, std::vector<double>>)
          return to_array(v, {static_cast<std::uint64_t>(v.size())});
        else
          return nb::cast(v);
      },
      value);
}

}  // namespace

nb::dict datasets(const StoredRun& run) {
  nb::dict out;
  for (const auto& d : layout::contract_datasets(run.result)) out[d.path.c_str()] = to_array(d);
  for (const auto& d : run.result.extra) out[d.path.c_str()] = to_array(d);
  return out;
}

nb::dict attributes(const StoredRun& run) {
  nb::dict out;
  if (run.has_config) {
    for (const auto& [name, value] : layout::contract_attributes(run.result, run.config))
      out[name.c_str()] = to_python(value);
  } else {
    out[layout::attr::solver.name().c_str()] = nb::cast(run.result.solver);
    out[layout::attr::domains.name().c_str()] = to_python(
        std::vector<std::int64_t>(run.domains.begin(), run.domains.end()));
  }
  out[layout::attr::qtraj_version.name().c_str()] = nb::cast(run.qtraj_version);
  if (!run.has_config) out[layout::attr::config.name().c_str()] = nb::cast(run.config.text);
  for (const auto& [name, value] : run.result.attributes) out[name.c_str()] = to_python(value);
  return out;
}

StoredRun load_stored_run(const std::string& path) {
  StoredResult stored = read_result(path);
  StoredRun run;
  run.result = std::move(stored.result);
  run.qtraj_version = stored.qtraj_version;
  run.domains = stored.domains;
  run.source = path;
  try {
    run.config = parse_run_config(stored.config_text, {}, path + " /config");
  } catch (const Error& e) {
    run.has_config = false;
    run.config_error = e.what();
    run.config.text = stored.config_text;
  }
  // read_result reads the contract; the further datasets of the layout are read one by one.
  const std::size_t n_domains = run.result.jz_over_n_mean.cols;
  for (const auto& entry : layout::result_entries()) {
    if (entry.is_attribute()) continue;
    const std::string name = entry.name();
    bool contract = false;
    for (const auto* c : {&layout::time, &layout::jz_over_n_mean, &layout::jz_over_n_stderr,
                          &layout::excitations_mean, &layout::excitations_stderr})
      contract = contract || c->name() == name;
    if (contract) continue;
    std::vector<std::string> paths;
    if (name.find("<i>") != std::string::npos) {
      for (std::size_t i = 0; i < n_domains; ++i)
        paths.push_back(layout::domain_path(entry, static_cast<int>(i)));
    } else {
      paths.push_back(name);
    }
    for (const auto& p : paths) {
      Dataset d;
      if (!read_dataset(path, p, &d)) continue;
      d.attributes["description"] = std::string(entry.description);
      run.result.extra.push_back(std::move(d));
    }
  }
  return run;
}

}  // namespace qtraj::python
