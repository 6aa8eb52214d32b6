"""Every comparison of the Experiments page at its defaults (aecore.analysis.recipes): does each point the way its
tutorial does, and how long does it take on this CPU?

    python bench/teaching_defaults.py                 # all of them, one after the other (about 6 CPU-minutes)
    python bench/teaching_defaults.py --quick         # a smaller smoke run (about a minute): the checks may not hold
    python bench/teaching_defaults.py --only sweep:dense,colour
    flock /tmp/heavy.lock python bench/teaching_defaults.py   # on a shared machine: one heavy job at a time

Each comparison runs in this process (not through the engine) with the threads a training worker gets here
(Settings.resolved_threads(): 1 on a 2-core machine; --threads to change). One JSON line per comparison: its key
numbers, "check" (true when it shows what its tutorial reports), "claim" (what was checked), "seconds" (wall),
"cpu_seconds" (this process's CPU time: the wall seconds on an idle machine with one thread) and the load average
before and after. The last line is a JSON summary. The exit status is 1 when a check fails in a full run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import torch  # noqa: E402

from aecore.analysis import experiments as ex  # noqa: E402
from aecore.analysis import recipes  # noqa: E402
from aecore.analysis.pca import pca_mse  # noqa: E402
from aecore.data.mnist import load_mnist  # noqa: E402
from aecore.settings import current, use  # noqa: E402
from aecore.training.trainer import train  # noqa: E402
from scratch import home_removed_at_exit  # noqa: E402

R5 = lambda v: round(float(v), 5)  # noqa: E731


def falls(values: list[float], slack: float = 0.02) -> bool:
    """Each value at most `slack` above the one before, and the last under the first."""
    return all(b <= a * (1 + slack) for a, b in zip(values, values[1:])) and values[-1] < values[0]


def mean_image_mse(ds) -> float:
    """Test MSE of always answering the mean training image (what a collapsed autoencoder outputs)."""
    mean = ds.train.x.astype(np.float32).mean(0) / 255.0
    return float(((ds.test.x.astype(np.float32) / 255.0 - mean) ** 2).mean())


# ---- the comparisons ------------------------------------------------------------------------------
def sweep(model: str, ds, quick: bool) -> dict:
    r = recipes.sweep_defaults(model)
    latents = (2, 8) if quick else r.latents
    base = r.config(device="cpu", **({"limit": 4000, "epochs": 1} if quick else {}))
    res = ex.latent_sweep(base, list(latents), ds)
    rows = res.tables["sweep"]
    ks, ae, pca = [x["latent"] for x in rows], [x["test_mse"] for x in rows], [x["pca_test_mse"] for x in rows]
    small = [(k, a, p) for k, a, p in zip(ks, ae, pca) if 2 <= k <= 8] or list(zip(ks, ae, pca))
    dense = model in ("dense", "linear")
    beats = all(a < p for k, a, p in (small if dense else zip(ks, ae, pca)))
    # the deep MLPs: a 12-unit layer before the code, so the fall ends near k = 8, and runs at neighbouring k differ
    # by a few %: the trend up to k = 8, each step at most 5% up
    deep = model.startswith("mlp") and sum(k <= 8 for k in ks) > 1
    trend = falls([a for k, a in zip(ks, ae) if k <= 8], 0.05) if deep else falls(ae)
    out = {"test_mse": dict(zip(ks, map(R5, ae))), "pca_test_mse": dict(zip(ks, map(R5, pca))),
           "under_pca": [k for k, a, p in zip(ks, ae, pca) if a < p], "falls_with_k": falls(ae), "beats_pca": beats,
           "check": trend and beats,
           "claim": ("test MSE falls with k up to k = 8 (each step at most 5% up)" if deep else "test MSE falls with k")
           + " and is under PCA " + ("at every k = 2..8" if dense else "at every k")}
    if dense and 1 in ks:
        out["k1_vs_pca"] = R5(ae[0] / pca[0])  # a one-layer AE with one code number can at best tie PCA
    return out


def ab(preset: str, ds, quick: bool) -> dict:
    cfgs = recipes.ab_defaults(preset, device="cpu", **({"epochs": 1, "limit": 2000} if quick else {}))
    res = ex.compare(cfgs, ds)
    fin = {r["model"]: r for r in res.tables["final"]}
    (la, a), (lb, b) = list(fin.items())[:2]
    out = {"test_mse": {k: R5(v["test_mse"]) for k, v in fin.items()},
           "test_bce": {k: round(v["test_bce"], 4) for k, v in fin.items()},
           "train_seconds": {k: round(v["seconds"], 1) for k, v in fin.items()}}
    if preset == "linear vs conv":
        out.update(check=b["test_mse"] < a["test_mse"], claim=f"{lb} under {la} (test MSE)")
    elif preset == "ReLU vs sigmoid output":
        out.update(check=b["test_mse"] < a["test_mse"], claim="sigmoid output under ReLU output (test MSE)")
    elif preset == "ConvTranspose vs Upsample decoder":
        gap = abs(a["test_mse"] - b["test_mse"]) / min(a["test_mse"], b["test_mse"])
        out.update(gap=round(gap, 3), check=gap <= 0.15, claim="close: test MSEs within 15% of each other")
    elif preset == "MSE vs BCE loss":
        gap = abs(a["test_mse"] - b["test_mse"]) / min(a["test_mse"], b["test_mse"])
        p32 = pca_mse(ds.test.x, 32, ds)
        out.update(gap=round(gap, 3), pca32=R5(p32),
                   own_loss_wins=a["test_mse"] <= b["test_mse"] and b["test_bce"] <= a["test_bce"],
                   check=gap <= 0.05 and max(a["test_mse"], b["test_mse"]) < p32,
                   claim="both train well: test MSEs within 5% and both under PCA-32 (own_loss_wins: each is best "
                         "at the loss it was trained for)")
    return out


def _run(recipe_run: recipes.RunRecipe, ds, quick: bool):
    over = {"epochs": 1, "limit": 4000} if quick and not recipe_run.digits else {"epochs": 1} if quick else {}
    return train(recipe_run.config(device="cpu", **over), ds)


def ae_vs_pca(ds, quick: bool) -> dict:
    from sklearn.neighbors import KNeighborsClassifier

    r = recipes.AE_VS_PCA
    run = _run(r.run, ds, quick)
    res = ex.ae_vs_pca(run, ds, n_points=r.n_points)
    s, codes = res.summary, res.tables["codes"]
    y, half = np.array([c["digit"] for c in codes]), len(codes) // 2

    def knn(xk, yk):  # 5-NN on half of the 2-D codes, scored on the other half: how well they separate the digits
        xy = np.array([[c[xk], c[yk]] for c in codes])
        return round(float(KNeighborsClassifier(5).fit(xy[:half], y[:half]).score(xy[half:], y[half:])), 3)

    return {"k": s["k"], "ae_test_mse": R5(s["ae_test_mse"]), "pca_test_mse": R5(s["pca_test_mse"]),
            "knn_2d_ae": knn("ae_x", "ae_y"), "knn_2d_pca": knn("pca_x", "pca_y"),
            "check": s["ae_test_mse"] < s["pca_test_mse"], "claim": "the AE under PCA at the same k (test MSE)"}


def classify(ds, quick: bool) -> dict:
    r = recipes.CLASSIFY
    run = _run(r.run, ds, quick)
    p = ex.probe(run, labels=r.labels, dataset=ds, n_test=2000 if quick else r.n_test).summary
    f = ex.finetune(run, labels=r.finetune_labels, epochs=1 if quick else r.finetune_epochs, dataset=ds,
                    lr=r.finetune_lr).summary
    head, tuned = f["head only (frozen encoder)"], f["fine-tuned encoder + head"]
    return {"latent": p["latent"], **{k: round(v, 3) for k, v in p.items() if k.endswith("_acc")},
            "head_only": round(head, 3), "fine_tuned": round(tuned, 3),
            "check": p["latent_logreg_acc"] > p["pca_logreg_acc"] and tuned > head,
            "claim": "codes beat PCA codes of the same size (logistic regression) and fine-tuning beats the head alone"}


def one_digit(ds, quick: bool) -> dict:
    r = recipes.ONE_DIGIT
    run = _run(r.run, ds, quick)
    s = ex.anomaly(run, None, ds).summary
    worst = min(s["per_digit_auc"].items(), key=lambda kv: kv[1])
    return {"normal": s["normal"], "auc": round(s["auc"], 4), "hardest": {worst[0]: round(worst[1], 4)},
            "check": s["auc"] > 0.9, "claim": "reconstruction error flags the other digits: ROC AUC > 0.9"}


def stacked(model: str, ds, quick: bool) -> dict:
    r = recipes.stacked_defaults(model)
    base = r.config(device="cpu", **({"epochs": 1, "limit": 2000} if quick else {}))
    res = ex.stacked_vs_endtoend(base, r.pretrain, ds)
    (le, e2e), (lp, pre) = [(x["model"], x) for x in res.tables["final"]]
    floor = mean_image_mse(ds)
    return {"test_mse": {le: R5(e2e["test_mse"]), lp: R5(pre["test_mse"])}, "mean_image_mse": R5(floor),
            "end_to_end_at_mean_image": e2e["test_mse"] > 0.97 * floor,
            "check": pre["test_mse"] < e2e["test_mse"],
            "claim": f"{r.hidden_act} units: the pretrained network under the end-to-end one (test MSE)"}


def colour(ds_name: str, classes: int, per_class: int, quick: bool) -> dict:
    from aecore.analysis.classify import tutorial_experiment
    from aecore.data import imported as datasets
    from aecore.data.catalog import load_dataset
    from aecore.data.shapes import make_shapes

    r = recipes.COLOUR
    if quick:
        r = dataclasses.replace(r, ae_steps=60, clf_steps=20)
    x, y, names = make_shapes(classes, per_class, r.size, seed=0)
    p = datasets.home() / f"{ds_name}.npz"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, x=x, y=y, class_names=np.array(names))
    datasets.add(p, ds_name, replace=True)  # as the Data sets page imports it: 20% of each class held out
    ds = load_dataset(ds_name)
    settings = r.settings(len(ds.train))
    res = tutorial_experiment(ds, **settings)
    floor = mean_image_mse(ds)
    orig = res.images["originals"]
    rows = res.tables["accuracy"]
    chance = 1.0 / ds.n_classes
    bright = {v["variant"]: round(float(res.images[f"recon:{v['variant']}"].mean() / orig.mean()), 3) for v in rows}
    looks = all(v["ae_test_mse"] < 0.7 * floor for v in rows) and all(b > 0.5 for b in bright.values())
    above = all(v["test_acc"] > chance + 0.1 for v in rows)
    return {"set": f"make_shapes {classes} classes x {per_class}, {r.size}x{r.size}: {len(ds.train)} train, "
                   f"{len(ds.test)} test", "settings": settings, "chance": round(chance, 3),
            "test_acc": {v["variant"]: round(v["test_acc"], 3) for v in rows},
            "train_acc": {v["variant"]: round(v["train_acc"], 3) for v in rows},
            "ae_test_mse": {v["variant"]: R5(v["ae_test_mse"]) for v in rows}, "mean_image_mse": R5(floor),
            "recon_brightness": bright,
            "sharpest": min(rows, key=lambda v: v["ae_test_mse"])["variant"],
            "check": above and looks,
            "claim": "every variant >= 10 points above chance, AE test MSE under 0.7x the mean image's, "
                     "reconstructions at least half as bright as the images (not black)"}


def comparisons(mnist, quick: bool) -> dict:
    """name -> a function returning its result (run in this order)."""
    jobs = {f"sweep:{m}": (lambda m=m: sweep(m, mnist, quick)) for m in recipes.SWEEPS}
    jobs.update({f"ab:{p}": (lambda p=p: ab(p, mnist, quick)) for p in recipes.AB})
    jobs["ae_vs_pca"] = lambda: ae_vs_pca(mnist, quick)
    jobs["classify"] = lambda: classify(mnist, quick)
    jobs["one_digit"] = lambda: one_digit(mnist, quick)
    jobs.update({f"stacked:{m}": (lambda m=m: stacked(m, mnist, quick)) for m in recipes.STACKED})
    c = recipes.COLOUR
    jobs["colour"] = lambda: colour("shapes", c.classes, 30 if quick else c.per_class, quick)
    jobs["colour:3x60"] = lambda: colour("shapes3", 3, 30 if quick else 60, quick)
    return jobs


def recorded(name: str) -> float | None:
    """The seconds recipes.py records for a comparison (None for the extra colour set)."""
    kind, _, key = name.partition(":")
    if kind in ("sweep", "ab", "stacked"):
        return {"sweep": recipes.SWEEPS, "ab": recipes.AB, "stacked": recipes.STACKED}[kind][key].seconds
    fixed = {"ae_vs_pca": recipes.AE_VS_PCA, "classify": recipes.CLASSIFY, "one_digit": recipes.ONE_DIGIT,
             "colour": recipes.COLOUR}
    return fixed[name].seconds if name in fixed else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smaller smoke run (the checks may not hold)")
    ap.add_argument("--only", default="", help="comma-separated names (e.g. sweep:dense,ab:linear vs conv,colour)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: a training worker's here)")
    a = ap.parse_args()
    threads = a.threads or current().resolved_threads()
    torch.set_num_threads(threads)
    use(current().with_(home=home_removed_at_exit(prefix="aelab-bench-")))  # imported colour sets stay out of the way
    mnist = load_mnist()
    jobs = comparisons(mnist, a.quick)
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in jobs]
    if unknown:
        ap.error(f"unknown comparison(s) {', '.join(unknown)}; choose from {', '.join(jobs)}")
    results, t_all = {}, time.perf_counter()
    for name, job in jobs.items():
        if only and name not in only:
            continue
        load0, t0, c0 = os.getloadavg()[0], time.perf_counter(), time.process_time()
        out = job()
        line = {"comparison": name, **out, "seconds": round(time.perf_counter() - t0, 1),
                "cpu_seconds": round(time.process_time() - c0, 1), "recorded_seconds": recorded(name),
                "load": [round(load0, 2), round(os.getloadavg()[0], 2)]}
        results[name] = line
        print(json.dumps(line, default=str), flush=True)
    failed = [n for n, r in results.items() if not r["check"]]
    summary = {"summary": {n: {"check": r["check"], "seconds": r["seconds"], "cpu_seconds": r["cpu_seconds"]}
                           for n, r in results.items()},
               "all_checks": not failed, "failed": failed, "quick": a.quick, "threads": threads,
               "total_seconds": round(time.perf_counter() - t_all, 1), "cpu_count": os.cpu_count(),
               "torch": torch.__version__}
    print(json.dumps(summary), flush=True)
    return 1 if failed and not a.quick else 0


if __name__ == "__main__":
    sys.exit(main())
