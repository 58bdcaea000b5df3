#!/usr/bin/env bash
# Reproduces every figure of the paper (Dias et al., PRB 104, L140303 (2021)) from the run files
# in examples/paper/: Figs. 2a-2c (exact, with trajectory means and +-2 standard-error bands),
# 3a-3b and 4b (mean field), 4a (exact), and the Eq. 5 check (mean field, two domains).
# Writes, into OUT (default paper-out/): the HDF5 behind every figure, each figure as PNG and PDF,
# and numbers.md (the values docs/paper.md quotes, read back from the HDF5 files).
# Also the local-decoherence figure local_migration (docs/local.md section 8): the runs of
# examples/local/migration.toml over a sweep of local dephasing and local emission rates.
#
#   scripts/paper.sh [--quick] [--local-only] [--out DIR] [--threads N]
#
# --quick: fewer trajectories and coarser grids (CI): the same files, smaller runs.
# --local-only: only the local-decoherence figure.
# Uses build/qtraj (built first if missing), scripts/paper_figures.py and scripts/local_figure.py
# (h5py, matplotlib).
# Ends with a check that every figure file exists and is non-empty (exit 1 otherwise).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=paper-out
quick=0
local_only=0
threads=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --local-only) local_only=1 ;;
    --out) out="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "paper.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
qtraj="${QTRAJ:-$root/build/qtraj}"
if [ ! -x "$qtraj" ]; then
  echo "paper.sh: building $qtraj" >&2
  cmake -S "$root" -B "$root/build" -G Ninja -DQTRAJ_BUILD_CUDA=OFF >/dev/null
  cmake --build "$root/build" -j"$(nproc)" --target qtraj
fi
# A python3 with h5py and matplotlib (Debian's; a pyenv shim earlier on PATH may lack them).
python=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c "import h5py, matplotlib, numpy" 2>/dev/null; then python="$p"; break; fi
done
[ -n "$python" ] || { echo "paper.sh: needs python3 with h5py, matplotlib, numpy" >&2; exit 2; }
mkdir -p "$out"
figures="fig2a fig2b fig2c fig3a fig3b fig4a fig4b eq5 local_migration"
[ "$local_only" = 1 ] && figures="local_migration"
for fig in $figures; do rm -f "$out/$fig.png" "$out/$fig.pdf"; done  # the final check sees new files only
rm -f "$out/numbers.md" "$out"/eq5-n*-x*.h5 "$out"/local-*.h5
ex="$root/examples/paper"
start=$(date +%s)

# Quick mode: trajectories 10000 -> 500, log grids -> 61 points (mean field 121: the steps are
# narrow on a grid spanning 10 decades).
traj_set=(); grid_set=(); mf_grid_set=()
if [ "$quick" = 1 ]; then
  traj_set=(--set solver.trajectories=500)
  grid_set=(--set time.points=61)
  mf_grid_set=(--set time.points=121)
fi

run() {  # run NAME FILE [qtraj options...]: OUT/NAME.h5, no per-run plot
  local name="$1" file="$2"
  shift 2
  local t0=$(date +%s.%N)
  "$qtraj" run "$file" -q -o "$out/$name.h5" --threads "$threads" --set 'output.plot=""' "$@"
  printf 'paper.sh: %-28s %6.1f s\n' "$name" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b - a}')" >&2
}

if [ "$local_only" = 0 ]; then
# Fig. 2: exact, and trajectories on their own grids (plus the exact solver on the trajectory
# grid, for the deviation in standard errors).
for f in fig2a fig2b fig2c; do
  run "$f" "$ex/$f.toml" "${grid_set[@]}"
  run "$f-trajectories" "$ex/$f-trajectories.toml" "${traj_set[@]}" "${grid_set[@]}"
  run "$f-trajectories-exact" "$ex/$f-trajectories.toml" --set solver.kind=exact "${grid_set[@]}"
done

# Fig. 3: mean field.
run fig3a "$ex/fig3a.toml" "${mf_grid_set[@]}"
run fig3b "$ex/fig3b.toml" "${mf_grid_set[@]}"

# Fig. 4: half-excited first domain, both readings of "half excited" (docs/paper.md).
run fig4a "$ex/fig4a.toml" "${grid_set[@]}"
run fig4a-product "$ex/fig4a.toml" "${grid_set[@]}" --set 'system.initial=["product 6","ground","ground"]'
run fig4b "$ex/fig4b.toml" "${mf_grid_set[@]}"
run fig4b-product "$ex/fig4b.toml" "${mf_grid_set[@]}" \
  --set 'system.initial=["product 500000","ground","ground"]'

# Eq. 5: N = (N_1, 100), first domain |j = N_1/2, m = x N_1>, for x = 0.05 .. 0.45 and
# N_1 = 1e4, 1e6 (examples/paper/eq5.toml is N_1 = 1e6, x = 0.25).
xs="0.05 0.10 0.15 0.20 0.25 0.30 0.35 0.40 0.45"
[ "$quick" = 1 ] && xs="0.10 0.25 0.40"
for n1 in 10000 1000000; do
  for x in $xs; do
    k=$("$python" -c "print(round(($x + 0.5) * $n1))")
    run "eq5-n$n1-x$x" "$ex/eq5.toml" "${mf_grid_set[@]}" \
      --set "system.domains=[$n1,100]" --set "system.initial=[\"dicke $k\",\"ground\"]"
  done
done

fi

# Local decoherence (docs/local.md section 8): N = (12, 6, 2), first domain excited, local
# dephasing or local emission g on every spin, g / gamma over three decades; exact at every rate,
# trajectories on the same grid at two rates of each process. Quick: N = (6, 3, 1) (30 times
# cheaper), two rates, rtol 1e-5, 300 trajectories at one rate.
rates="0.01 0.0316 0.1 0.316 1 3.16 10"
traj_rates="0.1 1"
local_set=(--set solver.trajectories=5000)
if [ "$quick" = 1 ]; then
  rates="0.1 10"
  traj_rates="0.1"
  local_set=(--set solver.trajectories=300 --set solver.rtol=1e-5 --set 'system.domains=[6,3,1]')
fi
lex="$root/examples/local/migration.toml"
run local-none "$lex" "${local_set[@]}" --set 'local=[{dephasing=0.0}]'
for proc in dephasing emission; do
  for g in $rates; do
    run "local-$proc-$g" "$lex" "${local_set[@]}" --set "local=[{$proc=$g}]"
  done
  for g in $traj_rates; do
    run "local-$proc-$g-trajectories" "$lex" "${local_set[@]}" --set "local=[{$proc=$g}]" \
      --set solver.kind=trajectories
  done
done

[ "$local_only" = 0 ] && "$python" "$root/scripts/paper_figures.py" "$out" $([ "$quick" = 1 ] && echo --quick)
"$python" "$root/scripts/local_figure.py" "$out" $([ "$quick" = 1 ] && echo --quick)

# Every figure must be there and non-empty.
missing=0
for fig in $figures; do
  for ext in png pdf; do
    if [ ! -s "$out/$fig.$ext" ]; then
      echo "paper.sh: MISSING or empty: $out/$fig.$ext" >&2
      missing=1
    fi
  done
done
[ -s "$out/numbers.md" ] || { echo "paper.sh: MISSING or empty: $out/numbers.md" >&2; missing=1; }
[ "$missing" = 0 ] || exit 1
echo "paper.sh: all figures written to $out/ in $(( $(date +%s) - start )) s" >&2
