#!/usr/bin/env bash
# The GPU check (issue 37, docs/gpu.md), on a machine whose python has torch with CUDA:
#
#   benchmarks/gpu_check.sh OUT WHEELS
#
# WHEELS holds the wheels `make gpu-wheels` downloads (stitchbench's own among them). Those of distributions
# this python lacks are installed, offline, into a folder of their own put on PYTHONPATH (nothing else is
# touched; without a stitchbench wheel, this tree's src/ is used); then the tests marked `gpu` run, then each suite of $GPU_CHECK_SUITES (default: `paper`, cold
# on the GPU, and `paper-gpu`) runs into a fresh cache, $GPU_CHECK_WORKERS workers (default: every core).
# OUT gets env.json (python, torch, CUDA, the GPU), gpu-tests.txt and gpu-tests.xml, and per suite
# SUITE/timings.json (the run manifest's timings, device, executor, workers and failed jobs),
# SUITE/claims.json and SUITE/run.log. Every step runs; the exit status is 1 if any failed.
set -uo pipefail
shopt -s nullglob

if [ $# -ne 2 ] || [ ! -d "$2" ]; then
    echo "usage: $0 OUT WHEELS (WHEELS: a folder of wheels from 'make gpu-wheels')" >&2
    exit 2
fi
out=$(realpath -m "$1")
wheels=$(realpath "$2")
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
suites=${GPU_CHECK_SUITES:-paper paper-gpu}
workers=${GPU_CHECK_WORKERS:-$(nproc)}
work=$(mktemp -d "${TMPDIR:-/tmp}/stitchbench-gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
status=0

missing=()
for wheel in "$wheels"/*.whl; do
    name=$(basename "$wheel" | cut -d- -f1)
    if ! "$python" -c "import importlib.metadata as m, sys; m.distribution(sys.argv[1])" "$name" 2>/dev/null; then
        missing+=("$wheel")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    "$python" -m pip install --quiet --no-index --no-deps --target "$work/site" "${missing[@]}" || exit 1
fi
export PYTHONPATH="$work/site:$repo/src${PYTHONPATH:+:$PYTHONPATH}"  # without its wheel: this tree's stitchbench
cd "$repo" || exit 1

"$python" - "$out/env.json" <<'EOF' || status=1
import json, platform, sys
import torch
import stitchbench
cuda = torch.cuda.is_available()
env = {
    "python": platform.python_version(),
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
    "stitchbench": stitchbench.__version__,
    "stitchbench_from": stitchbench.__file__,
}
open(sys.argv[1], "w").write(json.dumps(env, indent=1) + "\n")
print(env)
EOF

"$python" -m pytest tests -m gpu -q -rs -p no:cacheprovider --junitxml="$out/gpu-tests.xml" >"$out/gpu-tests.txt" 2>&1 || status=1
tail -n 5 "$out/gpu-tests.txt"

for suite in $suites; do
    mkdir -p "$out/$suite"
    "$python" -m stitchbench.cli --quiet --cache "$work/cache-$suite" --device cuda \
        run "$suite" --out "$work/runs/$suite" --workers "$workers" >"$out/$suite/run.log" 2>&1 || status=1
    cp "$work/runs/$suite/claims.json" "$out/$suite/" 2>/dev/null || echo "$suite: no claims.json" >&2
    "$python" - "$work/runs/$suite/manifest.json" "$out/$suite/timings.json" <<'EOF' || status=1
import json, sys
m = json.load(open(sys.argv[1]))
failed = sorted(j for j, s in m["jobs"].items() if s["status"] != "done")
keep = {k: m.get(k) for k in ("status", "started", "ended", "timings", "device", "executor", "workers", "versions")}
open(sys.argv[2], "w").write(json.dumps({"suite": m["suite"]["name"], **keep, "failed": failed}, indent=1) + "\n")
print(m["suite"]["name"], keep["timings"], f"{len(failed)} failed")
EOF
done
exit $status
