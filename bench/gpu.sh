#!/usr/bin/env bash
# Every GPU check and figure in one run, for a lent GPU machine with no registry access.
#
#   bash scripts/gpu-wheels          # here, with the internet: the few wheels the GPU machine lacks -> .whl/
#   (device tool) carry .whl, run:   bash bench/gpu.sh            # figures and logs -> $OUT
#   bash bench/gpu.sh --quick        # the same on this machine's CPU, tiny, to check the script
#
# The GPU machine already has torch with CUDA, torchvision, scikit-image, scipy,
# pluggy, typer, rich and imageio; the wheels add the rest without touching them.
# Runs the gpu-marked tests (determinism, no device-to-host copies in a step),
# then bench/speed.py on the GPU cases, each against the plain reference on the
# same GPU; about 4 minutes on a data-centre GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
PY=${PYTHON:-python3}
log() { echo "gpu.sh: $*" | tee -a "$OUT/gpu.log" >&2; }

if [ "$QUICK" = 0 ]; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    log "installing $(ls .whl/*.whl | wc -l) wheels without dependencies"
    $PY -m pip install -q --no-deps .whl/*.whl >>"$OUT/gpu.log" 2>&1 || log "some wheels did not install (see gpu.log)"
  fi
  if ! $PY -m pip install -q --no-deps --no-build-isolation -e . >>"$OUT/gpu.log" 2>&1; then
    # No setuptools to build with: put the package layout on the path by hand (core/ is neuralgae.core).
    log "the project did not install (see gpu.log); using it from a linked tree"
    LINKED=$(mktemp -d)
    mkdir -p "$LINKED/neuralgae"
    touch "$LINKED/neuralgae/__init__.py"
    ln -s "$PWD/core" "$LINKED/neuralgae/core"
    ln -s "$PWD/plugins" "$LINKED/neuralgae/plugins"
    ln -s "$PWD/neuralgae_cli" "$LINKED/neuralgae_cli"
    export PYTHONPATH="$LINKED${PYTHONPATH:+:$PYTHONPATH}"
  fi
  DEVICE=${ND_BENCH_DEVICE:-cuda}
  CASES="dream1024 dream4096 draw512 lucid2048 stream1024 video1080"
else
  PY=${PYTHON:-.venv/bin/python}
  DEVICE=${ND_BENCH_DEVICE:-cpu}
  CASES="draw224"
fi

$PY - <<'EOF' 2>&1 | tee "$OUT/machine.txt"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"cuda:{i}", p.name, f"{p.total_memory / 2**30:.0f} GiB", f"capability {p.major}.{p.minor}")
from neuralgae.core.nets.device import cpu_description, resolve_device, resolve_precision
d = resolve_device("auto")
print("auto ->", d, resolve_precision("auto", d))
print("cpu", cpu_description())
EOF

log "gpu-marked tests"
timeout 300 $PY -m pytest -q -p no:cacheprovider -m gpu -rs tests/test_device.py tests/test_flow.py >"$OUT/gpu-tests.txt" 2>&1
log "tests: $(tail -1 "$OUT/gpu-tests.txt")"

log "speed on $DEVICE: $CASES"
# shellcheck disable=SC2086
timeout 420 $PY bench/speed.py --device "$DEVICE" --threads "$(nproc)" --precisions fp32 auto --cases $CASES \
  --json "$OUT/speed.json" >"$OUT/speed.md" 2>"$OUT/speed.log"
log "speed: exit $? ($(grep -c '^|' "$OUT/speed.md" 2>/dev/null || echo 0) table lines)"
cat "$OUT/speed.md"
