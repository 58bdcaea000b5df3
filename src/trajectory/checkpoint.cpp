// Checkpoint files (include/qtraj/trajectory/checkpoint.hpp).
//
// File layout (HDF5, written by write_result; paths in include/qtraj/io/layout.hpp, namespace
// checkpoint): the usual trajectory datasets computed from the merged prefix (chunks 0 .. F-1:
// /aggregator/{mean,m2} + aggregator_count are its exact state), /jump_counts/histogram and
// /jumps/* of all finished chunks, and
//   /checkpoint/pending_chunks (P), /checkpoint/pending_counts (P),
//   /checkpoint/pending_mean, /checkpoint/pending_m2 (P x n_t*2M): finished chunks after the prefix;
//   /checkpoint/prefix_histogram (R x W), /checkpoint/pending_histogram (P x R x W): histograms
//   per chunk, so that files of several ranks that share chunks are merged exactly;
// root attributes solver = "trajectories_checkpoint", checkpoint_folded_chunks = F,
// checkpoint_num_chunks, checkpoint_fingerprint, seed, trajectories, first_trajectory.
#include "qtraj/trajectory/checkpoint.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/version.hpp"
#include "trajectory/checkpoint_file.hpp"

namespace qtraj {

std::string checkpoint_path(const std::string& output_path, int rank) {
  return output_path + ".ckpt" + (rank > 0 ? ".rank-" + std::to_string(rank) : std::string());
}

std::vector<std::string> existing_checkpoints(const std::string& output_path) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_regular_file(checkpoint_path(output_path), ec)) files.push_back(checkpoint_path(output_path));
  const fs::path out(output_path);
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  const std::string prefix = out.filename().string() + ".ckpt.rank-";
  std::vector<std::pair<long, std::string>> ranks;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    ranks.emplace_back(std::stol(digits), checkpoint_path(output_path, static_cast<int>(std::stol(digits))));
  }
  std::sort(ranks.begin(), ranks.end());
  for (const auto& r : ranks) files.push_back(r.second);
  return files;
}

void remove_checkpoints(const std::string& output_path) {
  for (const auto& f : existing_checkpoints(output_path)) std::remove(f.c_str());
}

std::string run_fingerprint(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace qtraj

namespace qtraj::backend {
namespace {

namespace A = layout::attr;
namespace C = layout::checkpoint;

const char* kSolverName = "trajectories_checkpoint";

std::int64_t int_attr(const StoredResult& s, const std::string& path, const layout::Entry& a) {
  const std::string name = a.name();
  auto it = s.result.attributes.find(name);
  if (it == s.result.attributes.end() || !std::holds_alternative<std::int64_t>(it->second))
    throw InputError("--resume", path, "checkpoint has no integer attribute " + name);
  return std::get<std::int64_t>(it->second);
}

Dataset need(const std::string& path, const layout::Entry& entry) {
  const std::string name = entry.name();
  Dataset d;
  if (!read_dataset(path, name, &d)) throw InputError("--resume", path, "checkpoint has no " + name);
  return d;
}

template <class T>
const std::vector<T>& values(const Dataset& d, const std::string& path) {
  const auto* v = std::get_if<std::vector<T>>(&d.values);
  if (!v) throw InputError("--resume", path, "checkpoint dataset " + d.path + " has the wrong type");
  return *v;
}

}  // namespace

void write_checkpoint(const std::string& path, const TrajectoryRun& run, const RunConfig& config,
                      const TallyState& state) {
  TrajectoryStatistics stats{state.all, state.total_histogram(), run.record > 0, {},
                             state.rec_time, state.rec_channel};
  for (std::int64_t t : state.rec_trajectory) stats.rec_trajectory.push_back(run.first + t);
  for (auto& h : stats.histogram)
    if (h.empty()) h.assign(1, 0);
  Result result = trajectory_result(run.model, run.times, run.channels, run.num_reservoirs, stats);
  result.solver = kSolverName;
  const std::uint64_t p = state.pending.size(), n_values = state.all.size();
  const auto num_res = static_cast<std::size_t>(run.num_reservoirs);
  std::size_t width = 1;  // histograms as R x width tables, zero-padded
  for (const auto& h : stats.histogram) width = std::max(width, h.size());
  auto flat = [&](const Histogram& h, std::vector<std::int64_t>& out) {
    for (std::size_t r = 0; r < num_res; ++r)
      for (std::size_t k = 0; k < width; ++k)
        out.push_back(r < h.size() && k < h[r].size() ? h[r][k] : 0);
  };
  std::vector<std::int64_t> chunks, counts, prefix_hist, pending_hist;
  std::vector<double> mean, m2;
  flat(state.histogram, prefix_hist);
  for (const auto& [c, chunk] : state.pending) {
    const auto& a = chunk.all;
    chunks.push_back(c);
    counts.push_back(a.count());
    mean.insert(mean.end(), a.means().begin(), a.means().end());
    m2.insert(m2.end(), a.m2().begin(), a.m2().end());
    flat(chunk.histogram, pending_hist);
  }
  layout::add(result, C::pending_chunks, {p}, chunks);
  layout::add(result, C::pending_counts, {p}, counts);
  layout::add(result, C::pending_mean, {p, n_values}, mean);
  layout::add(result, C::pending_m2, {p, n_values}, m2);
  layout::add(result, C::prefix_histogram, {num_res, width}, prefix_hist);
  layout::add(result, C::pending_histogram, {p, num_res, width}, pending_hist);
  layout::set(result, C::folded_chunks, state.folded);
  layout::set(result, C::num_chunks, static_cast<std::int64_t>(kNumChunks));
  layout::set(result, C::fingerprint, run_fingerprint(config.text));
  layout::set(result, A::seed, static_cast<std::int64_t>(run.settings.seed));
  layout::set(result, A::trajectories, run.total);
  layout::set(result, A::first_trajectory, run.first);
  layout::set(result, A::record_jumps, run.record);
  layout::set(result, A::propagator, trajectory::propagator_name(run.propagator));
  write_result(path, result, config);
}

TallyState read_checkpoint(const std::string& path, const TrajectoryRun& run,
                           const RunConfig& config) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError("--resume", path, "no checkpoint to resume from");
  const StoredResult s = read_result(path);
  if (s.result.solver != kSolverName)
    throw InputError("--resume", path, "is not a qtraj checkpoint");
  if (s.qtraj_version != kVersion)
    throw InputError("--resume", path, "the checkpoint was written by qtraj " + s.qtraj_version +
                                           ", this is qtraj " + kVersion);
  const std::int64_t seed = int_attr(s, path, A::seed);
  if (seed != static_cast<std::int64_t>(run.settings.seed))
    throw InputError("--resume", path, fmt::format("the checkpoint has seed {}, this run seed {}",
                                                   seed, run.settings.seed));
  const auto fp = s.result.attributes.find(C::fingerprint.name());
  const std::string mine = run_fingerprint(config.text);
  if (fp == s.result.attributes.end() || !std::holds_alternative<std::string>(fp->second) ||
      std::get<std::string>(fp->second) != mine)
    throw InputError("--resume", path,
                     "the checkpoint belongs to a different run file (fingerprint " +
                         (fp == s.result.attributes.end() ? std::string("none")
                          : std::holds_alternative<std::string>(fp->second)
                              ? std::get<std::string>(fp->second) : std::string("?")) +
                         ", this run " + mine + "; resume with the same file and --set options)");
  if (int_attr(s, path, C::num_chunks) != kNumChunks || int_attr(s, path, A::trajectories) != run.total ||
      int_attr(s, path, A::first_trajectory) != run.first)
    throw InputError("--resume", path, "the checkpoint's chunking or trajectory range differs");

  TallyState state;
  const std::size_t n_values = static_cast<std::size_t>(run.n_t) * run.row;
  state.folded = int_attr(s, path, C::folded_chunks);
  const Dataset mean = need(path, layout::aggregator_mean), m2 = need(path, layout::aggregator_m2);
  state.all = trajectory::Aggregator::from_state(int_attr(s, path, A::aggregator_count),
                                                 values<double>(mean, path), values<double>(m2, path));
  if (state.all.size() != n_values || state.folded < 0 || state.folded > kNumChunks)
    throw InputError("--resume", path, "the checkpoint's aggregator has the wrong shape");
  const Dataset d_chunks = need(path, C::pending_chunks), d_counts = need(path, C::pending_counts),
                d_mean = need(path, C::pending_mean), d_m2 = need(path, C::pending_m2);
  const auto& chunks = values<std::int64_t>(d_chunks, path);
  const auto& counts = values<std::int64_t>(d_counts, path);
  const auto& pm = values<double>(d_mean, path);
  const auto& pm2 = values<double>(d_m2, path);
  if (counts.size() != chunks.size() || pm.size() != chunks.size() * n_values || pm2.size() != pm.size())
    throw InputError("--resume", path, "the checkpoint's pending chunks have inconsistent shapes");
  const Dataset d_prefix = need(path, C::prefix_histogram),
                d_hists = need(path, C::pending_histogram);
  const auto& ph = values<std::int64_t>(d_prefix, path);
  const auto& hs = values<std::int64_t>(d_hists, path);
  const auto num_res = static_cast<std::size_t>(run.num_reservoirs);
  if (d_prefix.shape.size() != 2 || d_prefix.shape[0] != num_res ||
      hs.size() != chunks.size() * ph.size())
    throw InputError("--resume", path, "the checkpoint's histograms have the wrong shape");
  const std::size_t width = d_prefix.shape[1];
  auto histogram = [&](const std::int64_t* h) {  // R x width table -> rows as counted
    Histogram out(num_res);
    for (std::size_t r = 0; r < num_res; ++r) {
      out[r].assign(h + r * width, h + (r + 1) * width);
      while (!out[r].empty() && out[r].back() == 0) out[r].pop_back();  // last count > 0
    }
    return out;
  };
  state.histogram = histogram(ph.data());
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    ChunkState chunk;
    chunk.all = trajectory::Aggregator::from_state(
        counts[k], std::vector<double>(pm.begin() + k * n_values, pm.begin() + (k + 1) * n_values),
        std::vector<double>(pm2.begin() + k * n_values, pm2.begin() + (k + 1) * n_values));
    chunk.histogram = histogram(hs.data() + k * ph.size());
    state.pending.emplace(chunks[k], std::move(chunk));
  }
  Dataset traj, when, chan;
  if (read_dataset(path, layout::jumps_trajectory.name(), &traj)) {
    when = need(path, layout::jumps_time);
    chan = need(path, layout::jumps_channel);
    for (std::int64_t g : values<std::int64_t>(traj, path)) state.rec_trajectory.push_back(g - run.first);
    state.rec_time = values<double>(when, path);
    state.rec_channel = values<std::int64_t>(chan, path);
    Dataset local;  // local jumps: their codes (run.hpp)
    if (run.local && read_dataset(path, layout::jumps_local.name(), &local))
      state.rec_channel = encode_local_jumps(std::move(state.rec_channel),
                                             values<std::int64_t>(local, path),
                                             static_cast<int>(run.channels.size()), run.m);
    if (state.rec_time.size() != state.rec_trajectory.size() ||
        state.rec_channel.size() != state.rec_trajectory.size())
      throw InputError("--resume", path, "the checkpoint's jump records have inconsistent lengths");
  }
  return state;
}

Checkpointer::Checkpointer(const std::string& path, double seconds, const TrajectoryRun& run,
                           const RunConfig& config, const Tally& tally)
    : path_(path), seconds_(seconds), run_(run), config_(config), tally_(tally) {
  thread_ = std::thread([this] { loop(); });
}

void Checkpointer::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Checkpointer::write_now() {
  try {
    write_checkpoint(path_, run_, config_, tally_.snapshot());
    ++writes_;
    return true;
  } catch (const std::exception& e) {
    std::cerr << "qtraj: warning: checkpoint not written: " << e.what() << "\n";
    return false;
  }
}

void Checkpointer::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto period = std::chrono::duration<double>(seconds_);
  for (;;) {
    if (wake_.wait_for(lock, period, [this] { return stopping_; })) return;
    lock.unlock();
    write_now();
    lock.lock();
  }
}

}  // namespace qtraj::backend
