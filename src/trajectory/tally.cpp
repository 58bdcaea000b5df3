// Tally: finished chunks, merged in chunk order (see src/trajectory/run.hpp). The fold is
//   all = (((C_0 + C_1) + C_2) + ...)   (Chan merges, left to right, starting from empty)
// whatever order the chunks finish in, on whatever thread, rank or side of a resume they ran.
#include <cstring>

#include "qtraj/error.hpp"
#include "trajectory/run.hpp"

namespace qtraj::backend {

using trajectory::Aggregator;

namespace {

/// dst += h (integer counts: any order gives the same sums).
void add_histogram(Histogram& dst, const Histogram& h) {
  if (h.size() > dst.size()) dst.resize(h.size());
  for (std::size_t r = 0; r < h.size(); ++r) {
    auto& row = dst[r];
    if (row.size() < h[r].size()) row.resize(h[r].size(), 0);
    for (std::size_t k = 0; k < h[r].size(); ++k) row[k] += h[r][k];
  }
}

}  // namespace

Tally::Tally(const TrajectoryRun& run)
    : all(static_cast<std::size_t>(run.n_t) * run.row), histogram(run.num_reservoirs),
      rec_time(run.record), rec_channel(run.record), run_(run),
      prefix_histogram_(run.num_reservoirs) {}

void Tally::fold_locked() {
  for (auto it = pending_.find(folded_); it != pending_.end(); it = pending_.find(folded_)) {
    all.merge(it->second.all);
    add_histogram(prefix_histogram_, it->second.histogram);
    pending_.erase(it);
    ++folded_;
  }
}

void Tally::chunk_done(std::int64_t c, Aggregator&& chunk, const Histogram& h) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (c < folded_ || pending_.count(c))
    throw Error("trajectories: internal error, chunk " + std::to_string(c) + " finished twice");
  pending_.emplace(c, ChunkState{std::move(chunk), h});
  add_histogram(histogram, h);
  fold_locked();
}

void Tally::chunks_done(std::vector<std::pair<std::int64_t, Aggregator>>&& chunks,
                        const Histogram& h) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [c, a] : chunks)
    if (c < folded_ || pending_.count(c))
      throw Error("trajectories: internal error, chunk " + std::to_string(c) + " finished twice");
  bool first = true;
  for (auto& [c, a] : chunks) {
    pending_.emplace(c, ChunkState{std::move(a), first ? h : Histogram(run_.num_reservoirs)});
    first = false;
  }
  add_histogram(histogram, h);
  fold_locked();
}

bool Tally::complete() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return folded_ == kNumChunks;
}

std::vector<std::int64_t> TallyState::done_chunks() const {
  std::vector<std::int64_t> done;
  for (std::int64_t c = 0; c < folded; ++c) done.push_back(c);
  for (const auto& [c, a] : pending) done.push_back(c);
  return done;
}

Histogram TallyState::total_histogram() const {
  Histogram total = histogram;
  for (const auto& [c, chunk] : pending) add_histogram(total, chunk.histogram);
  return total;
}

TallyState Tally::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  TallyState s;
  s.folded = folded_;
  s.all = all;
  s.histogram = prefix_histogram_;
  s.pending = pending_;
  // Records of the finished chunks only: their vectors were written before chunk_done (which
  // took the mutex we hold), the others may be in flight.
  for (std::int64_t c : s.done_chunks())
    for (std::int64_t t = run_.chunk_begin(c);
         t < std::min(run_.chunk_begin(c + 1), run_.record); ++t)
      for (std::size_t j = 0; j < rec_time[t].size(); ++j) {
        s.rec_trajectory.push_back(t);
        s.rec_time.push_back(rec_time[t][j]);
        s.rec_channel.push_back(rec_channel[t][j]);
      }
  return s;
}

void Tally::absorb(const TallyState& s, bool skip_known) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<bool> taken(kNumChunks, false);  // chunks whose records we take from `s`
  if (s.folded > 0) {
    if (folded_ > 0 || !pending_.empty() || all.count() > 0)
      throw Error("trajectories: internal error, a merged prefix can only start a tally");
    if (s.all.size() != all.size())
      throw Error("trajectories: checkpoint aggregator has " + std::to_string(s.all.size()) +
                  " values per trajectory, this run " + std::to_string(all.size()));
    all = s.all;
    folded_ = s.folded;
    prefix_histogram_ = s.histogram;
    prefix_histogram_.resize(run_.num_reservoirs);
    add_histogram(histogram, s.histogram);
    for (std::int64_t c = 0; c < s.folded; ++c) taken[c] = true;
  }
  for (const auto& [c, chunk] : s.pending) {
    if (c < 0 || c >= kNumChunks) throw Error("trajectories: no chunk " + std::to_string(c));
    if (c < folded_ || pending_.count(c)) {
      // A chunk in two checkpoint files: the same state (trajectory t is a function of (seed,
      // t), and chunk states are only ever copied). Checked where both are still unmerged.
      const auto known = pending_.find(c);
      if (skip_known && (known == pending_.end() ||
                         (known->second.histogram == chunk.histogram &&
                          known->second.all.count() == chunk.all.count() &&
                          known->second.all.means() == chunk.all.means())))
        continue;
      throw Error("trajectories: chunk " + std::to_string(c) +
                  (skip_known ? " differs between checkpoint files" : " finished twice"));
    }
    if (chunk.all.size() != all.size()) throw Error("trajectories: chunk states of different sizes");
    pending_.emplace(c, chunk);
    add_histogram(histogram, chunk.histogram);
    taken[c] = true;
  }
  for (std::size_t j = 0; j < s.rec_trajectory.size(); ++j) {
    const std::int64_t t = s.rec_trajectory[j];
    if (t < 0 || t >= run_.record) throw Error("trajectories: jump record of trajectory " +
                                               std::to_string(t) + " outside record_jumps");
    // Chunk of t: the last c with chunk_begin(c) <= t.
    std::int64_t lo = 0, hi = kNumChunks - 1;
    while (lo < hi) {
      const std::int64_t mid = (lo + hi + 1) / 2;
      if (run_.chunk_begin(mid) <= t) lo = mid; else hi = mid - 1;
    }
    if (!taken[lo]) continue;
    rec_time[t].push_back(s.rec_time[j]);
    rec_channel[t].push_back(static_cast<int>(s.rec_channel[j]));
  }
  fold_locked();
}

// --- bytes: int64 and double values back to back (host byte order; one job, one binary) ---
namespace {

struct Writer {
  std::vector<char> out;
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
  }
  template <class T>
  void put_vector(const std::vector<T>& v) {
    put<std::int64_t>(static_cast<std::int64_t>(v.size()));
    const auto* p = reinterpret_cast<const char*>(v.data());
    out.insert(out.end(), p, p + v.size() * sizeof(T));
  }
  void put_histogram(const Histogram& h) {
    put<std::int64_t>(static_cast<std::int64_t>(h.size()));
    for (const auto& row : h) put_vector(row);
  }
  void put_aggregator(const Aggregator& a) {
    put<std::int64_t>(a.count());
    put_vector(a.means());
    put_vector(a.m2());
  }
};

struct Reader {
  const std::vector<char>& in;
  std::size_t pos = 0;
  template <class T>
  T get() {
    if (pos + sizeof(T) > in.size()) throw Error("trajectories: truncated rank state");
    T v;
    std::memcpy(&v, in.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  template <class T>
  std::vector<T> get_vector() {
    const auto n = get<std::int64_t>();
    if (n < 0 || pos + n * sizeof(T) > in.size()) throw Error("trajectories: truncated rank state");
    std::vector<T> v(n);
    if (n > 0) std::memcpy(v.data(), in.data() + pos, n * sizeof(T));
    pos += n * sizeof(T);
    return v;
  }
  Histogram get_histogram() {
    Histogram h(get<std::int64_t>());
    for (auto& row : h) row = get_vector<std::int64_t>();
    return h;
  }
  Aggregator get_aggregator() {
    const auto count = get<std::int64_t>();
    auto mean = get_vector<double>();
    auto m2 = get_vector<double>();
    return Aggregator::from_state(count, std::move(mean), std::move(m2));
  }
};

}  // namespace

std::vector<char> TallyState::serialize() const {
  Writer w;
  w.put<std::int64_t>(folded);
  w.put_aggregator(all);
  w.put_histogram(histogram);
  w.put<std::int64_t>(static_cast<std::int64_t>(pending.size()));
  for (const auto& [c, chunk] : pending) {
    w.put<std::int64_t>(c);
    w.put_aggregator(chunk.all);
    w.put_histogram(chunk.histogram);
  }
  w.put_vector(rec_trajectory);
  w.put_vector(rec_time);
  w.put_vector(rec_channel);
  return std::move(w.out);
}

TallyState TallyState::deserialize(const std::vector<char>& bytes) {
  Reader r{bytes};
  TallyState s;
  s.folded = r.get<std::int64_t>();
  s.all = r.get_aggregator();
  s.histogram = r.get_histogram();
  const auto n_pending = r.get<std::int64_t>();
  for (std::int64_t k = 0; k < n_pending; ++k) {
    const auto c = r.get<std::int64_t>();
    ChunkState chunk;
    chunk.all = r.get_aggregator();
    chunk.histogram = r.get_histogram();
    s.pending.emplace(c, std::move(chunk));
  }
  s.rec_trajectory = r.get_vector<std::int64_t>();
  s.rec_time = r.get_vector<double>();
  s.rec_channel = r.get_vector<std::int64_t>();
  if (r.pos != bytes.size()) throw Error("trajectories: malformed rank state");
  return s;
}

}  // namespace qtraj::backend
