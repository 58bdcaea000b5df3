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
// checkpoint_num_chunks, checkpoint_fingerprint, checkpoint_checksum (ContentHash below), seed,
// trajectories, first_trajectory.
#include "qtraj/trajectory/checkpoint.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/io/result_reader.hpp"
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
    // Only the names checkpoint_path writes (rank 1 .. 999999999, no leading zero) of regular
    // files: any other file beside the output (out.h5.ckpt.rank-99999999999999999999) is not ours.
    if (digits.empty() || digits.size() > 9 || digits[0] == '0' ||
        digits.find_first_not_of("0123456789") != std::string::npos || !e.is_regular_file(ec))
      continue;
    const int rank = std::stoi(digits);
    ranks.emplace_back(rank, checkpoint_path(output_path, rank));
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

// The checksum of a checkpoint (/@checkpoint_checksum): 64-bit FNV-1a over everything --resume
// restores, each field tagged and length-prefixed, numbers as their bytes: the identity (seed,
// range, chunking, fingerprint, propagator), the prefix aggregator and histogram, the pending
// chunks and the jump records. HDF5's fletcher32 guards each dataset's bytes; this guards the
// whole (attributes included) and catches a dataset swapped for another valid one.
class ContentHash {
 public:
  void bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t k = 0; k < n; ++k) {
      h_ ^= p[k];
      h_ *= 0x100000001b3ULL;
    }
  }
  void add(const char* tag, std::int64_t v) {
    bytes(tag, std::strlen(tag) + 1);
    bytes(&v, sizeof v);
  }
  void add(const char* tag, const std::string& v) {
    add(tag, static_cast<std::int64_t>(v.size()));
    bytes(v.data(), v.size());
  }
  template <class T>
  void add(const char* tag, const std::vector<T>& v) {
    add(tag, static_cast<std::int64_t>(v.size()));
    bytes(v.data(), v.size() * sizeof(T));
  }
  std::string hex() const { return fmt::format("{:016x}", h_); }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

// What a checkpoint stores for --resume, as the file holds it.
struct Contents {
  std::int64_t seed = 0, trajectories = 0, first = 0, record = 0, num_chunks = 0, folded = 0,
               count = 0, width = 0;
  std::string fingerprint, propagator;
  std::vector<double> mean, m2, pending_mean, pending_m2, rec_time;
  std::vector<std::int64_t> chunks, counts, prefix_hist, pending_hist, rec_trajectory, rec_channel;

  std::string checksum() const {
    ContentHash h;
    h.add("seed", seed);
    h.add("trajectories", trajectories);
    h.add("first", first);
    h.add("record", record);
    h.add("num_chunks", num_chunks);
    h.add("folded", folded);
    h.add("count", count);
    h.add("width", width);
    h.add("fingerprint", fingerprint);
    h.add("propagator", propagator);
    h.add("mean", mean);
    h.add("m2", m2);
    h.add("chunks", chunks);
    h.add("counts", counts);
    h.add("pending_mean", pending_mean);
    h.add("pending_m2", pending_m2);
    h.add("prefix_hist", prefix_hist);
    h.add("pending_hist", pending_hist);
    h.add("rec_trajectory", rec_trajectory);
    h.add("rec_time", rec_time);
    h.add("rec_channel", rec_channel);
    return h.hex();
  }
};

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
  Contents contents;
  contents.seed = static_cast<std::int64_t>(run.settings.seed);
  contents.trajectories = run.total;
  contents.first = run.first;
  contents.record = run.record;
  contents.num_chunks = kNumChunks;
  contents.folded = state.folded;
  contents.count = state.all.count();
  contents.width = static_cast<std::int64_t>(width);
  contents.fingerprint = run_fingerprint(config.text);
  contents.propagator = trajectory::propagator_name(run.propagator);
  contents.mean = state.all.means();
  contents.m2 = state.all.m2();
  contents.chunks = chunks;
  contents.counts = counts;
  contents.pending_mean = mean;
  contents.pending_m2 = m2;
  contents.prefix_hist = prefix_hist;
  contents.pending_hist = pending_hist;
  if (stats.has_records) {
    contents.rec_trajectory = stats.rec_trajectory;
    contents.rec_time = stats.rec_time;
    contents.rec_channel = stats.rec_channel;
  }
  layout::add(result, C::pending_chunks, {p}, chunks);
  layout::add(result, C::pending_counts, {p}, counts);
  layout::add(result, C::pending_mean, {p, n_values}, mean);
  layout::add(result, C::pending_m2, {p, n_values}, m2);
  layout::add(result, C::prefix_histogram, {num_res, width}, prefix_hist);
  layout::add(result, C::pending_histogram, {p, num_res, width}, pending_hist);
  layout::set(result, C::folded_chunks, state.folded);
  layout::set(result, C::num_chunks, static_cast<std::int64_t>(kNumChunks));
  layout::set(result, C::fingerprint, contents.fingerprint);
  layout::set(result, C::checksum, contents.checksum());
  layout::set(result, A::seed, static_cast<std::int64_t>(run.settings.seed));
  layout::set(result, A::trajectories, run.total);
  layout::set(result, A::first_trajectory, run.first);
  layout::set(result, A::record_jumps, run.record);
  layout::set(result, A::propagator, contents.propagator);
  write_result(path, result, config);
}

TallyState read_checkpoint(const std::string& path, const TrajectoryRun& run,
                           const RunConfig& config) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError("--resume", path, "no checkpoint to resume from");
  // The validating reader (include/qtraj/io/result_reader.hpp): every dataset is checked against
  // this run's shapes (n_t x 2M, R reservoirs, 256 chunks) before it is read, every count and
  // index against the run's range, and the whole against the checkpoint's checksum.
  const ResultFile f(path);
  if (f.string_attribute(A::solver.name()) != kSolverName)
    throw InputError("--resume", path, "is not a qtraj checkpoint");
  const std::string version = f.string_attribute(A::qtraj_version.name());
  if (version != kVersion)
    throw InputError("--resume", path, "the checkpoint was written by qtraj " + version +
                                           ", this is qtraj " + kVersion);
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min(),
                         kMax = std::numeric_limits<std::int64_t>::max();
  Contents c;
  c.seed = f.int_attribute(A::seed.name(), kMin, kMax);
  if (c.seed != static_cast<std::int64_t>(run.settings.seed))
    throw InputError("--resume", path, fmt::format("the checkpoint has seed {}, this run seed {}",
                                                   c.seed, run.settings.seed));
  const auto fp = f.attributes().find(C::fingerprint.name());
  const std::string mine = run_fingerprint(config.text);
  if (fp == f.attributes().end() || !std::holds_alternative<std::string>(fp->second) ||
      std::get<std::string>(fp->second) != mine)
    throw InputError("--resume", path,
                     "the checkpoint belongs to a different run file (fingerprint " +
                         (fp == f.attributes().end() ? std::string("none")
                          : std::holds_alternative<std::string>(fp->second)
                              ? std::get<std::string>(fp->second) : std::string("?")) +
                         ", this run " + mine + "; resume with the same file and --set options)");
  c.fingerprint = mine;
  c.num_chunks = f.int_attribute(C::num_chunks.name(), kMin, kMax);
  c.trajectories = f.int_attribute(A::trajectories.name(), kMin, kMax);
  c.first = f.int_attribute(A::first_trajectory.name(), kMin, kMax);
  if (c.num_chunks != kNumChunks || c.trajectories != run.total || c.first != run.first)
    throw InputError("--resume", path, "the checkpoint's chunking or trajectory range differs");
  const std::string stored_checksum = f.string_attribute(C::checksum.name());
  if (stored_checksum.empty())
    throw InputError("--resume", path,
                     "the checkpoint carries no checksum (written by an earlier build of qtraj " +
                         version + ", file format " + std::to_string(f.format_version()) +
                         "); run again without --resume");
  c.record = f.int_attribute(A::record_jumps.name(), run.record, run.record);
  c.propagator = f.string_attribute(A::propagator.name());
  c.folded = f.int_attribute(C::folded_chunks.name(), 0, kNumChunks);
  // The merged prefix holds exactly the trajectories of chunks 0 .. folded-1.
  const std::int64_t prefix = run.chunk_begin(c.folded);
  c.count = f.int_attribute(A::aggregator_count.name(), prefix, prefix);

  const auto n_t = static_cast<std::uint64_t>(run.n_t), row = static_cast<std::uint64_t>(run.row);
  const std::uint64_t n_values = n_t * row;
  const auto num_res = static_cast<std::uint64_t>(run.num_reservoirs);
  auto need = [&](const layout::Entry& e) {
    if (!f.has(e.name())) f.refuse(e.name(), "", "is missing from the checkpoint");
    return e.name();
  };
  const std::string raw_text = "n_t x 2M of this run";
  c.mean = f.doubles(need(layout::aggregator_mean), {n_t, row}, raw_text, ValueRule::finite);
  c.m2 = f.doubles(need(layout::aggregator_m2), {n_t, row}, raw_text, ValueRule::finite_non_negative);
  c.chunks = f.ints(need(C::pending_chunks), {kAnyExtent}, "P", ValueRule::any);
  const std::uint64_t p = c.chunks.size();
  for (std::size_t k = 0; k < c.chunks.size(); ++k)
    if (c.chunks[k] < c.folded || c.chunks[k] >= kNumChunks || (k > 0 && c.chunks[k] <= c.chunks[k - 1]))
      f.refuse(C::pending_chunks.name(), std::to_string(c.chunks[k]),
               "pending chunks must rise strictly within " + std::to_string(c.folded) + " .. " +
                   std::to_string(kNumChunks - 1));
  c.counts = f.ints(need(C::pending_counts), {p}, "P of /checkpoint/pending_chunks", ValueRule::any);
  for (std::size_t k = 0; k < c.counts.size(); ++k) {
    const std::int64_t size = run.chunk_begin(c.chunks[k] + 1) - run.chunk_begin(c.chunks[k]);
    if (c.counts[k] < 0 || c.counts[k] > size)
      f.refuse(C::pending_counts.name(), std::to_string(c.counts[k]),
               "chunk " + std::to_string(c.chunks[k]) + " has " + std::to_string(size) +
                   " trajectories in this run");
  }
  const std::string pending_text = "P x n_t*2M of this run";
  c.pending_mean = f.doubles(need(C::pending_mean), {p, n_values}, pending_text, ValueRule::finite);
  c.pending_m2 =
      f.doubles(need(C::pending_m2), {p, n_values}, pending_text, ValueRule::finite_non_negative);
  const std::string prefix_name = need(C::prefix_histogram);
  const auto prefix_shape = f.shape(prefix_name);
  c.prefix_hist = f.ints(prefix_name, {num_res, kAnyExtent}, "R x W of this run", ValueRule::non_negative);
  const std::uint64_t width = prefix_shape.at(1);
  c.width = static_cast<std::int64_t>(width);
  c.pending_hist = f.ints(need(C::pending_histogram), {p, num_res, width},
                          "P x R x W of /checkpoint/prefix_histogram", ValueRule::non_negative);
  // Every finished trajectory is counted once in each reservoir's row: of the prefix table or of
  // a pending one (a CUDA segment of several chunks keeps its one histogram on its first chunk,
  // so only the sum over all tables is a count).
  std::int64_t finished = c.count;
  for (std::int64_t n : c.counts) finished += n;  // <= run.total: no overflow
  for (std::uint64_t r = 0; r < num_res; ++r) {
    std::int64_t sum = 0;
    for (std::uint64_t t = 0; t <= p && sum <= finished; ++t) {
      const std::int64_t* h = t == 0 ? c.prefix_hist.data() : c.pending_hist.data() + (t - 1) * num_res * width;
      for (std::uint64_t k = 0; k < width && sum <= finished; ++k)
        sum = h[r * width + k] > finished - sum ? finished + 1 : sum + h[r * width + k];
    }
    if (sum != finished)
      f.refuse(C::pending_histogram.name(), sum > finished ? "more" : std::to_string(sum),
               "reservoir " + std::to_string(r + 1) + ": the histograms do not count the " +
                   std::to_string(finished) + " finished trajectories");
  }
  if (f.has(layout::jumps_trajectory.name())) {
    c.rec_trajectory = f.ints(layout::jumps_trajectory.name(), {kAnyExtent}, "n_jumps", ValueRule::any);
    const std::vector<std::uint64_t> n_jumps{c.rec_trajectory.size()};
    for (std::int64_t g : c.rec_trajectory)
      if (g < run.first || g - run.first >= run.record)
        f.refuse(layout::jumps_trajectory.name(), std::to_string(g),
                 "is not a recorded trajectory of this run");
    c.rec_time = f.doubles(need(layout::jumps_time), n_jumps, "n_jumps of /jumps/trajectory",
                           ValueRule::finite_non_negative);
    c.rec_channel = f.ints(need(layout::jumps_channel), n_jumps, "n_jumps of /jumps/trajectory",
                           ValueRule::any);
    if (run.local) {  // local jumps (channel -1): their codes from /jumps/local, every row checked
      const auto table = f.ints(need(layout::jumps_local), {c.rec_channel.size(), 4},
                                "n_jumps x 4 of /jumps/trajectory", ValueRule::any);
      c.rec_channel = encode_local_jumps(std::move(c.rec_channel), table,
                                         static_cast<int>(run.channels.size()), run.model, path);
    } else {
      for (std::int64_t ch : c.rec_channel)
        if (ch < 0 || ch >= static_cast<std::int64_t>(run.channels.size()))
          f.refuse(layout::jumps_channel.name(), std::to_string(ch), "is not a channel of the model");
    }
  }
  if (c.checksum() != stored_checksum)
    f.refuse("/@" + C::checksum.name(), stored_checksum,
             "does not match the checkpoint's contents (" + c.checksum() +
                 "): the file is damaged; run again without --resume");

  TallyState state;
  state.folded = c.folded;
  state.all = trajectory::Aggregator::from_state(c.count, c.mean, c.m2);
  auto histogram = [&](const std::int64_t* h) {  // R x width table -> rows as counted
    Histogram out(num_res);
    for (std::size_t r = 0; r < num_res; ++r) {
      out[r].assign(h + r * width, h + (r + 1) * width);
      while (!out[r].empty() && out[r].back() == 0) out[r].pop_back();  // last count > 0
    }
    return out;
  };
  state.histogram = histogram(c.prefix_hist.data());
  for (std::size_t k = 0; k < p; ++k) {
    ChunkState chunk;
    chunk.all = trajectory::Aggregator::from_state(
        c.counts[k],
        std::vector<double>(c.pending_mean.begin() + k * n_values, c.pending_mean.begin() + (k + 1) * n_values),
        std::vector<double>(c.pending_m2.begin() + k * n_values, c.pending_m2.begin() + (k + 1) * n_values));
    chunk.histogram = histogram(c.pending_hist.data() + k * num_res * width);
    state.pending.emplace(c.chunks[k], std::move(chunk));
  }
  for (std::int64_t g : c.rec_trajectory) state.rec_trajectory.push_back(g - run.first);
  state.rec_time = std::move(c.rec_time);
  state.rec_channel = std::move(c.rec_channel);
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
