#!/usr/bin/env bash
# Steady solver on large systems (docs/steady_state.md), through the CLI, with wall time and peak
# memory (/usr/bin/time -v). Usage, from the repository root after building:
#   bench/steady_large.sh [build-dir] [threads] [case...]      (cases: 60_30_10 120_60_20 400_40_4)
# Writes steady_<case>.h5 into $OUT (default /tmp) and prints one line per case.
set -euo pipefail
build=${1:-build}; threads=${2:-0}; shift $(( $# > 2 ? 2 : $# ))
cases=("$@"); [ ${#cases[@]} -eq 0 ] && cases=(60_30_10 400_40_4 120_60_20)
out=${OUT:-/tmp}
for c in "${cases[@]}"; do
  log=$(mktemp)
  /usr/bin/time -v "$build/qtraj" run "bench/steady/steady_$c.toml" -q --threads "$threads" \
      -o "$out/steady_$c.h5" 2> "$log"
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  user=$(grep "User time" "$log" | awk '{print $NF}')
  echo "($c) threads=$threads wall=$wall user=${user}s peak_rss=$((rss / 1024)) MiB"
  "$build/qtraj" info "$out/steady_$c.h5" | grep -A5 "t = inf" | tail -n +2
  rm -f "$log"
done
