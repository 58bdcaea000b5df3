#!/usr/bin/env bash
# MPI ranks vs threads, and the cost of checkpoints (docs/design.md section 8), timed side by side
# in one run: every configuration runs REPEAT times, interleaved; the medians of the wall time and
# of the CPU time (user + sys of the process tree, /usr/bin/time) are reported. On a shared machine
# the CPU time is the figure that survives other jobs' load: it is the work done.
#   bench/mpi_checkpoint_bench.sh [build/qtraj] [TRAJECTORIES] [REPEAT]
# Model: (12,6,2), first domain excited, the default chain, t = 0..100 on 201 points, spectral,
# seed 1 (the run of bench/trajectory_bench_config.hpp).
set -euo pipefail
QTRAJ=${1:-build/qtraj}
TRAJ=${2:-800000}
REPEAT=${3:-3}
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/run.toml" <<TOML
[system]
domains = [12, 6, 2]
[time]
end = 100.0
points = 201
[solver]
kind = "trajectories"
trajectories = $TRAJ
seed = 1
propagator = "spectral"
[output]
checkpoint_seconds = 0
TOML

declare -A CMD=(
  [threads2]="$QTRAJ run $dir/run.toml -q -o $dir/threads2.h5 --threads 2"
  [plain1]="$QTRAJ run $dir/run.toml -q -o $dir/plain1.h5 --threads 1"
  [mpi1]="$MPIRUN -n 1 $QTRAJ run $dir/run.toml -q -o $dir/mpi1.h5 --threads 1"
  [mpi2]="$MPIRUN -n 2 $QTRAJ run $dir/run.toml -q -o $dir/mpi2.h5 --threads 1"
  [ckpt0]="$QTRAJ run $dir/run.toml -q -o $dir/ckpt0.h5 --threads 2 --set output.checkpoint_seconds=0"
  [ckpt02]="$QTRAJ run $dir/run.toml -q -o $dir/ckpt02.h5 --threads 2 --set output.checkpoint_seconds=0.2"
  [ckpt300]="$QTRAJ run $dir/run.toml -q -o $dir/ckpt300.h5 --threads 2 --set output.checkpoint_seconds=300"
)
ORDER=(threads2 plain1 mpi1 mpi2 ckpt0 ckpt02 ckpt300)
declare -A WALL CPU
for rep in $(seq "$REPEAT"); do
  for name in "${ORDER[@]}"; do
    read -r e u s < <(/usr/bin/time -f "%e %U %S" ${CMD[$name]} 2>&1 >/dev/null | tail -1)
    WALL[$name]="${WALL[$name]:-} $e"
    CPU[$name]="${CPU[$name]:-} $(echo "$u + $s" | bc)"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "trajectories=$TRAJ repeat=$REPEAT; load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-9s %9s %9s   %s\n" config wall_s cpu_s "all runs (wall | cpu)"
for name in "${ORDER[@]}"; do
  printf "%-9s %9.3f %9.3f   [%s |%s ]\n" "$name" "$(echo "${WALL[$name]}" | median)" \
    "$(echo "${CPU[$name]}" | median)" "${WALL[$name]}" "${CPU[$name]}"
done
# Same numbers for every way of running (h5dump of the means, full precision).
for f in plain1 mpi1 mpi2 ckpt02; do
  cmp <(h5dump -d /aggregator/mean -m %.17g "$dir/threads2.h5" | tail -n +3) \
      <(h5dump -d /aggregator/mean -m %.17g "$dir/$f.h5" | tail -n +3) >/dev/null \
    && echo "$f: /aggregator/mean identical to threads2" || echo "$f: DIFFERS"
done
