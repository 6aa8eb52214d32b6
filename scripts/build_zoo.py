"""Rebuild the pretrained zoo in data/zoo (seeded; run on the CPU for byte-stable weights).

    python scripts/build_zoo.py            # every zoo run
    python scripts/build_zoo.py conv-k2    # just one
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aecore.data.mnist import load_mnist  # noqa: E402
from aecore.models.evaluate import evaluate  # noqa: E402
from aecore.training.runs import save_run  # noqa: E402
from aecore.training.trainer import train  # noqa: E402
from aecore.training.zoo import ZOO, zoo_dir  # noqa: E402


def main(names: list[str]) -> int:
    ds = load_mnist()
    start = time.time()
    for entry in ZOO:
        if names and entry.name not in names:
            continue
        t = time.time()
        run = train(entry.config, ds)
        run.name = entry.name
        save_run(run, zoo_dir() / entry.name)
        ev = evaluate(run.model, ds.test)
        print(json.dumps({"name": entry.name, "test_mse": round(ev["test_mse"], 5),
                          "train_loss": round(run.final_train_loss, 5), "seconds": round(time.time() - t, 1)}), flush=True)
    print(json.dumps({"total_seconds": round(time.time() - start, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
