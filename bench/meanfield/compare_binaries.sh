#!/usr/bin/env bash
# Mean-field results of two qtraj binaries compared bit for bit (h5diff without tolerance): the
# paper's mean-field run files and, on log grids from 1e-3 and 1e-6 to t = 2000, the sizes
# (30,15,5), (60,30,10), (40,2), (300,150,50), (1000,500,100) with closure auto and
# fourth_order (docs/meanfield.md 3.4: the runaway guard must change no converging run).
#   bench/meanfield/compare_binaries.sh OLD_QTRAJ NEW_QTRAJ
# One line per case: the objects that differ besides `config` (holds the output path) and
# `meanfield_seconds` (wall time), which must be none, and the closure the new binary used.
# Output files go to ${OUT:-/tmp}/mf_compare/.
set -uo pipefail
old=${1:?old qtraj binary}
new=${2:?new qtraj binary}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${OUT:-/tmp}/mf_compare
mkdir -p "$out"
run() {  # name run_file --set...
  local name=$1 file=$2 ro rn other closure
  shift 2
  "$old" run "$file" -q "$@" -o "$out/$name.old.h5" 2> "$out/$name.old.err"; ro=$?
  "$new" run "$file" -q "$@" -o "$out/$name.new.h5" 2> "$out/$name.new.err"; rn=$?
  if [ "$ro" -ne 0 ] || [ "$rn" -ne 0 ]; then echo "$name: exit status old $ro, new $rn"; return; fi
  h5diff -v "$out/$name.old.h5" "$out/$name.new.h5" > "$out/$name.diff" 2>&1
  other=$(awk '/^(attribute|dataset|group)/ { h = $0 } /^[1-9][0-9]* difference/ { print h }' \
            "$out/$name.diff" | grep -v -E '<(config|meanfield_seconds) of' | sort -u | tr '\n' ' ')
  closure=$("$new" info "$out/$name.new.h5" | awk '/meanfield_closure /{sub(":", "", $2); print $2}')
  echo "$name: differing besides config/meanfield_seconds: [${other}]; closure ${closure}"
}
for p in eq5 fig3a fig3b fig4b; do run "$p" "$root/examples/paper/$p.toml"; done
for d in 30,15,5 60,30,10 40,2 300,150,50 1000,500,100; do
  init='"excited"'
  for _ in $(seq 2 "$(tr , ' ' <<<"$d" | wc -w)"); do init="$init,\"ground\""; done
  for s in 1e-3 1e-6; do
    for c in auto fourth_order; do
      run "${d//,/_}_${s}_$c" "$here/auto_40_10_2.toml" --set "system.domains=[$d]" \
        --set "system.initial=[$init]" --set "time.start=$s" --set "solver.closure=\"$c\""
    done
  done
done
