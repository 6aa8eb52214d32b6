#!/usr/bin/env bash
# The GPU session's check, in one command that ends within 6 minutes on a bare GPU machine (the device tool's
# `run`, the repository as working directory, .whl/ carried: bench/gpu_wheels.sh fills it here):
#
#   bench/gpu_check.sh [seconds]        # default 345: each stage gets at most what is left (a stage starting with
#                                       # under 30 s left is skipped), so it ends within 6 minutes
#
#  1. installs the carried wheels the image lacks into /tmp/site (PYTHONPATH; worker processes inherit it);
#  2. tests: tests/test_gpu.py, the GPU-machine tests of tests/test_gpu_paths.py (settings, the page's choice; the
#     CPU-only ones run in CI) and the kill -9 test of tests/test_engine.py (and tests/test_app.py's one-digit test
#     when streamlit was carried: bench/gpu_wheels.sh --app);
#  3. bench/train_speed.py --device cuda: ours vs the bare loop (and the tutorial loop) at batch 20, 256, 2048, and
#     ours in fp32, in torch's default memory layout, and both (which default is fastest at batch 2048);
#  4. bench/class_on_gpu.py --jobs 30: thirty conv k=16 MNIST epochs through the engine against one alone;
#  5. bench/projection_speed.py --device cuda: t-SNE of 10,000 and all 70,000 codes against openTSNE, UMAP against
#     umap-learn (10,000) and at 70,000.
# Every figure is a JSON line {"figure": ..., "value": ...} (a ratio against a baseline measured in this run); they
# are printed again together at the end, with one {"stage": ...} line per stage. Logs go to $OUT (or /tmp/gpu_check).
set -uo pipefail
cd "$(dirname "$0")/.."
BUDGET=${1:-345}
START=$(date +%s)
DEADLINE=$((START + BUDGET))
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
FIGS="$OUT/figures.jsonl"
: > "$FIGS"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
PY=${PYTHON:-python3}

if ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo '{"stage": "wheels", "rc": 1}'; exit 1; }
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" - <<'EOF' | tee -a "$FIGS"
import json, os, platform, subprocess, torch
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                     capture_output=True, text=True).stdout.strip() if gpu else ""
print(json.dumps({"figure": "machine", "value": gpu, "torch": torch.__version__, "cuda": torch.version.cuda,
                  "python": platform.python_version(), "cores": os.cpu_count(), "nvidia_smi": smi}))
EOF

stage() {  # stage NAME MAX_SECONDS COMMAND...: run it within what is left of the budget, keep its log and figures
  local name=$1 most=$2
  shift 2
  local left=$((DEADLINE - $(date +%s)))
  if [ "$left" -lt 30 ]; then
    echo "{\"stage\": \"$name\", \"skipped\": \"$left s left of the budget\"}" | tee -a "$FIGS"
    return
  fi
  local limit=$(( most < left ? most : left ))
  local t0=$(date +%s)
  echo "== $name (at most $limit s): $*"
  timeout -k 10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  grep -h '^{"figure"' "$OUT/$name.log" | tee -a "$FIGS"
  grep -E ' (PASSED|FAILED|ERROR|SKIPPED)|^(FAILED|ERROR)|[0-9]+ (passed|failed)|Error|error:' "$OUT/$name.log" | tail -40
  echo "{\"stage\": \"$name\", \"rc\": $rc, \"seconds\": $(( $(date +%s) - t0 ))$([ $rc = 124 ] && echo ', "timed_out": true')}" \
    | tee -a "$FIGS"
}

TESTS=(tests/test_gpu.py
       "tests/test_gpu_paths.py::test_only_clean_fused_runs_take_the_graph_step"
       "tests/test_gpu_paths.py::test_a_gpu_machine_runs_many_workers_each_with_its_share_of_the_memory"
       "tests/test_gpu_paths.py::test_auto_lays_maps_out_on_the_gpu_only_where_it_applies"
       "tests/test_engine.py::test_kill_9_a_worker_mid_job_then_resume_from_the_last_epoch")
if "$PY" -c "import streamlit, plotly" 2>/dev/null; then
  TESTS+=("tests/test_app.py::test_one_digit_tab_warns_about_a_run_trained_on_every_digit")
fi
stage tests 110 "$PY" -m pytest -v -p no:cacheprovider "${TESTS[@]}"
stage train 55 "$PY" bench/train_speed.py --device cuda --images 20000 --trials 3 --batches 20,256,2048 \
  --variants fp32,nchw,fp32nchw --tutorial-images 6000
stage class 75 "$PY" bench/class_on_gpu.py --jobs 30
stage projection 100 "$PY" bench/projection_speed.py --device cuda --threads "$(nproc)" --sizes 10000,70000 \
  --sklearn-max 0 --bh-max 10000 --umap --umap-cpu-max 10000

echo "== all figures ($(( $(date +%s) - START )) s)"
cat "$FIGS"
