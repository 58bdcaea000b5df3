#!/usr/bin/env bash
# ctest Install.PlotsWorkFromAnyDirectory BUILD_DIR: `cmake --install BUILD_DIR --prefix P` into a
# temporary P, the installed tree then moved elsewhere (nothing in it may name P), and `qtraj demo`
# run from another directory, directly and through a symlink, with QTRAJ_PLOT_SCRIPT unset: the
# PNG must appear, made by the installed share/qtraj/plot_result.py (a wrapper around it leaves a
# mark, so the source tree's copy cannot pass for it). Exit 77 (skipped) without python3 + h5py +
# matplotlib, which the plot needs.
set -euo pipefail
build=$(cd "$1" && pwd)
python=/usr/bin/python3; [ -x "$python" ] || python=python3
"$python" -c 'import h5py, matplotlib' 2>/dev/null || { echo "SKIP: $python lacks h5py/matplotlib"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/qtraj-install-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "install_check: FAILED: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
mv "$work/prefix" "$work/moved"
tree=$(cd "$work/moved" && pwd -P)  # the real path, as /proc/self/exe gives it
[ -x "$tree/bin/qtraj" ] || fail "no bin/qtraj"
[ -f "$tree/share/qtraj/plot_result.py" ] || fail "no share/qtraj/plot_result.py"
[ -f "$tree/share/qtraj/examples/paper/fig2a.toml" ] || fail "no share/qtraj/examples"

# The installed script, wrapped: marks that it ran, then runs the real one.
mv "$tree/share/qtraj/plot_result.py" "$tree/share/qtraj/plot_result_installed.py"
cat >"$tree/share/qtraj/plot_result.py" <<'PY'
import os, runpy, sys
here = os.path.dirname(os.path.abspath(__file__))
open(os.environ["QTRAJ_INSTALL_CHECK_MARK"], "a").write(__file__ + "\n")
sys.argv[0] = os.path.join(here, "plot_result_installed.py")
runpy.run_path(sys.argv[0], run_name="__main__")
PY

mkdir -p "$work/elsewhere"
ln -s "$tree/bin/qtraj" "$work/elsewhere/qtraj-link"
cd "$work/elsewhere"
export QTRAJ_INSTALL_CHECK_MARK="$work/mark"
unset QTRAJ_PLOT_SCRIPT QTRAJ_PYTHON
"$tree/bin/qtraj" demo -q -o direct.h5 --plot direct.png || fail "qtraj demo (installed binary)"
./qtraj-link demo -q -o linked.h5 --plot linked.png || fail "qtraj demo (through a symlink)"
for png in direct.png linked.png; do
  [ -s "$png" ] || fail "$png not written"
  [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
done
[ "$(grep -cxF "$tree/share/qtraj/plot_result.py" "$work/mark")" = 2 ] \
  || fail "the installed plot script did not make both plots: $(cat "$work/mark" 2>/dev/null)"
echo "install_check: OK: $tree/bin/qtraj plots with its own share/qtraj/plot_result.py from $PWD"
