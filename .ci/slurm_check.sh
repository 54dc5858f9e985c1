#!/usr/bin/env bash
# The SLURM profile, tested for real: start a single-node SLURM cluster on this machine
# (.ci/slurm_cluster.sh), build every figure of the CI config through the SLURM executor with
# profiles/slurm, and check that each figure and every table it needs came out.
#
#   bash .ci/slurm_check.sh [snakemake targets or options; default: all table1]
#
# Needs root (the cluster script installs Debian packages and starts daemons). Installs
# snakemake-executor-plugin-slurm into the active Python environment if it is missing. Writes
# under $DLNDYN_SLURM_RESULTS (default results/ci-slurm, emptied first so that every job really
# runs through SLURM), never under results/ci of the local CI build. Stops the cluster at the end
# if it started it. Exits non-zero if anything fails.
#
# Time limits, so that it can never hang CI: the Snakemake run gets $DLNDYN_SLURM_TIMEOUT seconds
# (default 1200; then SIGINT, on which Snakemake cancels its SLURM jobs, and SIGKILL 60 s later),
# the whole script that plus 300 s (install, cluster start, checks, cleanup).
# Arguments go to snakemake after the script's own (and to the final dry run); a --config there
# replaces the script's (results=..., figures_dir=...), so repeat those.
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT=${DLNDYN_SLURM_TIMEOUT:-1200}
if [ -z "${DLNDYN_SLURM_CHECK_INNER:-}" ]; then
  # The whole script under a hard limit; timeout signals its whole process group. The SLURM
  # daemons run in sessions of their own and are stopped by the EXIT trap below.
  export DLNDYN_SLURM_CHECK_INNER=1
  exec timeout --kill-after=60 "$((LIMIT + 300))" bash "$0" "$@"
fi

export JAX_PLATFORMS=${JAX_PLATFORMS:-cpu} MPLBACKEND=${MPLBACKEND:-Agg}
OUT=${DLNDYN_SLURM_RESULTS:-results/ci-slurm}
PY=$(command -v python || command -v python3)

step() { printf '\n== slurm check: %s (%s)\n' "$1" "$(date +%T)"; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }

step "executor plugin in $("$PY" -c 'import sys; print(sys.prefix)')"
if ! "$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
  timeout 300 "$PY" -m pip install --quiet "snakemake-executor-plugin-slurm>=2.7.1"
fi
"$PY" - <<'PY'
from importlib.metadata import version
for p in ("snakemake", "snakemake-executor-plugin-slurm", "snakemake-executor-plugin-slurm-jobstep"):
    print(p, version(p))
PY

step "single-node SLURM cluster"
started_here=0
if ! bash .ci/slurm_cluster.sh status >/dev/null 2>&1; then
  started_here=1
fi
cleanup() {
  local rc=$?
  if [ "$started_here" = 1 ] && [ -z "${DLNDYN_SLURM_KEEP_CLUSTER:-}" ]; then
    step "stopping the cluster this check started"
    timeout 60 bash .ci/slurm_cluster.sh stop || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
t0=$(date +%s)
timeout 300 bash .ci/slurm_cluster.sh start
echo "cluster ready in $(elapsed "$t0")"

# What to build: the arguments if any (targets such as fig1, or options), else what .ci/run builds:
# every figure (all) and, where the workflow has it, Table 1.
if [ $# -eq 0 ]; then
  set -- all
  grep -q '^rule table1:' workflow/rules/*.smk && set -- all table1
fi

step "CI config through --executor slurm into $OUT: $* (limit ${LIMIT} s)"
rm -rf "$OUT"
t0=$(date +%s)
rc=0
timeout --signal=INT --kill-after=60 "$LIMIT" "$PY" -m snakemake \
  --executor slurm --workflow-profile profiles/slurm --profile profiles/slurm-local \
  --configfile config/ci.yaml --config results="$OUT" figures_dir="$OUT/figures" \
  --slurm-logdir "$OUT/slurm_logs" "$@" || rc=$?
echo "snakemake through SLURM: exit $rc after $(elapsed "$t0")"
if [ "$rc" -ne 0 ]; then
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "FAILED: snakemake ran past ${LIMIT} s and was stopped" >&2
    # Its SLURM jobs (those running in this checkout) would run on: cancel them.
    squeue -h -t PENDING,RUNNING -o '%i %Z' 2>/dev/null | awk -v d="$PWD" '$2 == d {print $1}' \
      | xargs -r scancel || true
    # A killed snakemake leaves its locks behind; remove those that name only our outputs (never
    # the locks of another run in this checkout), so that the next check can run.
    for f in .snakemake/locks/*.lock; do
      if [ -s "$f" ] && ! grep -qv "^$OUT/" "$f"; then rm -f "$f"; fi
    done
  fi
  echo "FAILED: snakemake through SLURM exited $rc; SLURM logs under $OUT/slurm_logs" >&2
  squeue --states=all -o '%i %j %T %M %R' 2>/dev/null | tail -20 >&2 || true
  exit 1
fi

step "every figure came out"
# The figures asked for (config/ci.yaml merged over config/config.yaml, as Snakemake does): every
# figure of every paper for `all`, a paper's for `<paper>`, one for `<paper>_<fig>` or for the
# main paper's short name `<fig>`.
figs=$("$PY" - "$@" <<'PY'
import sys, yaml
base, ci = (yaml.safe_load(open(f)) for f in ("config/config.yaml", "config/ci.yaml"))
targets = set(sys.argv[1:])
for paper, block in base.items():
    if not isinstance(block, dict) or "figures" not in block:
        continue
    figs = dict.fromkeys([*block["figures"], *ci.get(paper, {}).get("figures", {})])
    for fig in figs:
        names = {"all", paper, f"{paper}_{fig}"} | ({fig} if paper == "bordelon25" else set())
        if names & targets:
            print(f"{paper}/{fig}")
PY
)
files=()
for fig in $figs; do
  files+=("$OUT/figures/$fig.pdf" "$OUT/figures/$fig.png")
done
for t in "$@"; do
  [ "$t" = table1 ] && files+=("$OUT/figures/bordelon25/table1.csv" "$OUT/figures/bordelon25/table1.png")
done
missing=0
for f in "${files[@]}"; do
  if [ -s "$f" ]; then echo "ok $f"; else echo "MISSING $f" >&2; missing=1; fi
done
[ "${#files[@]}" -gt 0 ] || { echo "FAILED: no figure to check for targets: $*" >&2; missing=1; }
# And everything the targets need (agreement, optimal-eta0 and exponent tables too) is there
# and up to date.
timeout 300 "$PY" -m snakemake -n "$@" --configfile config/ci.yaml \
  --config results="$OUT" figures_dir="$OUT/figures" >"$OUT/dryrun.txt" 2>&1 || true
if ! grep -q "Nothing to be done" "$OUT/dryrun.txt"; then
  echo "FAILED: a dry run after the SLURM run still has jobs to do:" >&2
  grep -A30 "^Job stats" "$OUT/dryrun.txt" >&2 || tail -30 "$OUT/dryrun.txt" >&2
  missing=1
fi
[ "$missing" = 0 ] || { echo "FAILED: outputs missing" >&2; exit 1; }
njobs=$(find "$OUT/slurm_logs" -name '*.log' | wc -l)
echo "slurm check passed: $njobs SLURM jobs in $(elapsed "$t0"), outputs in $OUT/figures"
