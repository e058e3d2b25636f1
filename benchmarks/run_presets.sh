#!/usr/bin/env bash
# Run every experiment preset (configs/experiment/*.yaml) as shipped, one after another,
# each into OUT_DIR/<preset>, and print each preset's summary table (summary.md), its
# wall time, the machine load, and the total time. Used to regenerate the README's
# preset results (issue 9).
#
# Usage: benchmarks/run_presets.sh OUT_DIR [PRESET ...] [-- EXTRA_OVERRIDES ...]
#   e.g. benchmarks/run_presets.sh /tmp/presets
#        benchmarks/run_presets.sh /tmp/presets longtail_losses -- report.resume=false
# Without PRESETs it runs all of configs/experiment/*.yaml. Results are not reused
# from earlier sweeps (report.resume=false) so that the times are real.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 OUT_DIR [PRESET ...] [-- EXTRA_OVERRIDES ...]" >&2
  exit 2
fi
out=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
lossbench=${LOSSBENCH:-$root/.venv/bin/lossbench}

presets=()
extra=()
while [[ $# -gt 0 ]]; do
  if [[ "$1" == "--" ]]; then shift; extra=("$@"); break; fi
  presets+=("$1")
  shift
done
if [[ ${#presets[@]} -eq 0 ]]; then
  for f in "$root"/configs/experiment/*.yaml; do presets+=("$(basename "$f" .yaml)"); done
fi
for p in "${presets[@]}"; do
  if [[ ! -f "$root/configs/experiment/$p.yaml" ]]; then
    echo "preset '$p' not found: choose one of $(ls "$root/configs/experiment" | sed 's/.yaml//' | tr '\n' ' ')" >&2
    exit 2
  fi
done

mkdir -p "$out"
export OMP_NUM_THREADS=1
total=0
times=()
cd "$root"
for p in "${presets[@]}"; do
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  TIMEFORMAT='%R %U %S'
  { time "$lossbench" run -m "+experiment=$p" "hydra.sweep.dir=$out/$p" trainer.progress=false \
      report.resume=false "${extra[@]}" > "$out/$p.log" 2>&1; } 2> "$out/$p.time" || {
      echo "preset $p failed: see $out/$p.log" >&2; tail -n 20 "$out/$p.log" >&2; exit 1; }
  read -r real user sys < "$out/$p.time"
  secs=$(python3 -c "print(f'{$real:.0f}')")
  cpu=$(python3 -c "print(f'{$user + $sys:.0f}')")
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  total=$(python3 -c "print($total + $secs)")
  times+=("$p: ${secs} s wall, ${cpu} s CPU (load average before: $load_before; after: $load_after)")
  echo
  echo "## $p (${secs} s; load average $load_after; $out/$p)"
  echo
  cat "$out/$p/summary.md"
done

echo
echo "## Times ($(nproc) CPUs available to this process; CPU = user + system time)"
printf '%s\n' "${times[@]}"
echo "total: ${total} s wall"
