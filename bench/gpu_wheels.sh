#!/usr/bin/env bash
# Download into .whl/ (git-ignored) the wheels that bench/gpu_check.sh installs on a GPU machine, whose image has
# Python 3.12, torch 2.11 (CUDA 13), numba, scipy, scikit-learn, Triton and pytest but not these:
#   openTSNE 1.0.4      t-SNE on the CPU: the page's CPU path, the GPU t-SNE's start and placer, the bench's baseline
#                       (compiled: the cp312 manylinux x86_64 build)
#   umap-learn 0.5.12   UMAP on the CPU: the baseline of the GPU UMAP (pure Python)
#   pynndescent 0.7.0   umap-learn's neighbour search (pure Python)
# With --app also what the app's pages need (streamlit and plotly with the dependencies the image lacks, the versions
# of this repository's .venv), for tests/test_app.py on the GPU machine: about 35 MB more (a device run carries
# 64 MiB in all, the working tree included). The folder is emptied first: one version of each package.
# Run it here, in the repository, where pip reaches the package index:  bench/gpu_wheels.sh [--app]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
WANT=(openTSNE==1.0.4 umap-learn==0.5.12 pynndescent==0.7.0)
if [ "${1:-}" = "--app" ]; then
  WANT+=(streamlit==1.67.0 plotly==6.9.0 altair==6.3.0 pydeck==0.9.3 starlette==1.10.0 uvicorn==0.55.0
         python-multipart==0.0.34 websockets==17.4 itsdangerous==2.2.0 watchdog==7.1.1 jsonschema==4.26.0
         jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1)
fi
rm -rf .whl && mkdir -p .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${WANT[@]}"
ls -l .whl
du -sh .whl
