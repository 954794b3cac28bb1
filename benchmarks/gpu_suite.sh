#!/usr/bin/env bash
# The GPU parts of the benchmarks in one run (a GPU machine is lent for minutes, not hours).
# Usage: bash benchmarks/gpu_suite.sh [OUTDIR]   (logs and one summary.json land in OUTDIR)
# Each step has its own time limit, so one slow step cannot take the others' figures with it.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-gpu-results}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
py=${PYTHON:-python3}
{
  nvidia-smi -L 2>&1
  lscpu | grep -E "^(Model name|CPU\(s\))" 2>&1
  "$py" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
} | tee "$out/machine.txt"
step() {   # step NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  echo "== $name"
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.log"
  echo "== $name: exit ${PIPESTATUS[0]}"
}
step caption_throughput "${CAPTION_LIMIT:-300}" "$py" benchmarks/caption_throughput.py --device cuda \
  --images "${CAPTION_IMAGES:-32}" --batch-size "${CAPTION_BATCH:-32}"
step embed_overhead "${EMBED_LIMIT:-120}" "$py" benchmarks/embed_overhead.py --device cuda \
  --photos 256 --batch-size 64 --rounds 3
step decode_rate "${DECODE_LIMIT:-120}" "$py" benchmarks/decode_rate.py --photos 32 --passes 2
# One summary: the last line (JSON) of each step's log.
"$py" - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
summary = {}
for log in sorted(out.glob("*.log")):
    lines = [l for l in log.read_text(errors="replace").splitlines() if l.startswith("{")]
    summary[log.stem] = json.loads(lines[-1]) if lines else None
(out / "summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary))
PY
