#!/usr/bin/env bash
# Run the library, engine and page tests against another torch than the pinned pair, on this machine's CPU: by
# default the GPU image's torch 2.11.0 (the registry's +cu130 build, the same one that image has) with its
# torchvision 0.26.0. It builds a virtual environment of its own (.venv-torch-<version>, git-ignored; about 5.7 GB,
# most of it NVIDIA's libraries) from the project's other pins, then runs pytest on everything but the browser tests
# (Ray is left out: tests/test_ray.py skips). The pinned pair stays in .venv; nothing here touches it.
#   bench/other_torch.sh [torch-version torchvision-version] [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH=2.11.0 VISION=0.26.0
if [[ ${1:-} =~ ^[0-9] ]]; then TORCH=$1 VISION=$2; shift 2; fi
VENV=".venv-torch-$TORCH"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  # every pin of requirements*.txt but torch and torchvision, which are replaced
  pins=$(cat requirements.txt requirements-dev.txt requirements-gpu.txt | sed 's/#.*//' | grep -v '^-r' |
         grep -v -E '^(torch|torchvision)==' | tr -s ' \n' ' ')
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q "torch==$TORCH" "torchvision==$VISION" $pins
fi
"$VENV/bin/python" -c "import torch, torchvision, torchvision.ops; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
if [ $# -eq 0 ]; then set -- --ignore-glob='tests/test_browser_*' tests; fi
TEST_TORCH_THREADS=${TEST_TORCH_THREADS:-2} exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
