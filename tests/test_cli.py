"""The command line: exit codes, one-line errors and the JSON lines it promises."""

import contextlib
import io
import json
import subprocess
import sys

import pytest

from conftest import ROOT

from aecore.cli import main


def cli(*args):
    """`python -m aecore ARGS` in this process (the entry point is `sys.exit(main())`): exit code, stdout, stderr.
    No new Python per command; test_the_entry_point_* runs the real `python -m aecore`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


def process(*args, timeout=120):
    p = subprocess.run([sys.executable, "-m", "aecore", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    rc, stdout, err = cli("train", "--model", "dense", "--latent", "8", "--epochs", "4", "--limit", "2000", "--lr", "0.005",
                          "--batch", "50", "--digits", "0,1", "--seed", "1", "--out", str(out))
    assert rc == 0, err
    return out, stdout


def test_models_lists_every_model():
    rc, out, _ = cli("models")
    assert rc == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == ["linear", "dense", "conv-tutorial", "mlp-deep", "mlp-hinton", "conv-bn", "conv", "conv-sharp",
                     "flowers-tutorial", "flowers-bn", "flowers-upsample"]


def test_train_prints_epochs_then_json(trained):
    out, stdout = trained
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("train epoch 1:") and lines[3].startswith("train epoch 4:")
    result = json.loads(lines[-1])
    for key in ["train_loss", "val_loss", "test_mse", "seconds", "images_per_s"]:
        assert isinstance(result[key], float) and result[key] > 0
    assert (out / "weights.pt").is_file() and (out / "config.json").is_file()


def test_eval_and_project(trained, tmp_path):
    out, _ = trained
    rc, stdout, _ = cli("eval", str(out))
    ev = json.loads(stdout)
    assert rc == 0 and len(ev["per_digit_mse"]) == 10 and ev["psnr"] > 0
    # trained on 0 and 1 only: those reconstruct best
    per = ev["per_digit_mse"]
    assert max(per[0], per[1]) < min(per[2:]) * 1.5
    csv = tmp_path / "p.csv"
    rc, _, _ = cli("project", str(out), "--method", "pca", "--n", "200", "--out", str(csv))
    lines = csv.read_text().splitlines()
    assert rc == 0 and lines[0] == "index,digit,x,y" and len(lines) == 201


def test_anomaly_and_probe(trained):
    out, _ = trained
    rc, stdout, _ = cli("anomaly", str(out), "--normal", "0,1")
    res = json.loads(stdout)
    assert rc == 0 and 0.5 < res["auc"] <= 1 and set(res["per_digit_auc"]) == {str(d) for d in range(2, 10)}
    rc, stdout, _ = cli("probe", str(out), "--labels", "200")
    res = json.loads(stdout)
    assert rc == 0 and all(0.1 < res[k] <= 1 for k in ["latent_logreg_acc", "pca_logreg_acc", "pixels_logreg_acc",
                                                       "latent_knn_acc", "pca_knn_acc", "pixels_knn_acc"])


def test_sweep_writes_rows(tmp_path):
    csv = tmp_path / "s.csv"
    rc, _, err = cli("sweep", "--model", "dense", "--latent", "2,8", "--epochs", "1", "--limit", "500", "--batch", "50", "--out", str(csv))
    assert rc == 0, err
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("latent,train_loss") and "pca_test_mse" in lines[0] and len(lines) == 3


@pytest.mark.parametrize("args,msg", [
    (["train", "--model", "nope", "--out", "x"], "unknown model"),
    (["train", "--latent", "0", "--out", "x"], "latent size"),
    (["train", "--epochs", "ten", "--out", "x"], "invalid int"),
    (["train", "--noise", "blur:1", "--out", "x"], "unknown noise"),
    (["eval", "/no/such/run"], "no run directory"),
    (["frobnicate"], "invalid choice"),
    (["train"], "required"),
])
def test_bad_arguments_exit_nonzero_with_one_line(args, msg):
    rc, out, err = cli(*args)
    assert rc == 2 and msg in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("args,msg", [
    (["frobnicate"], "invalid choice"),  # argparse only: answered before torch is imported
    (["train", "--model", "nope", "--out", "x"], "unknown model"),  # with torch loaded: still one line on stderr
])
def test_the_entry_point_exits_2_with_one_line(args, msg):
    rc, out, err = process(*args)
    assert rc == 2 and msg in err and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err


def test_argument_errors_are_answered_without_loading_torch():
    """A typo costs a tenth of a second, not the seconds torch takes to import (commands import what they need)."""
    code = ("import sys; from aecore.cli import main; rc = main(['train', '--epochs', 'ten', '--out', 'x']); "
            "print(rc, 'torch' in sys.modules, 'sklearn' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.stdout.split() == ["2", "False", "False"], p.stderr


def test_compare_stacked_pca_and_finetune(trained, tmp_path):
    out, _ = trained
    csv = tmp_path / "ab.csv"
    rc, stdout, err = cli("compare", "--preset", "MSE vs BCE loss", "--epochs", "1", "--limit", "500", "--batch", "50",
                          "--device", "cpu", "--out", str(csv))
    assert rc == 0, err
    assert len(json.loads(stdout)["final"]) == 2 and csv.read_text().startswith("model,config,final_train_loss")
    rc, stdout, err = cli("stacked", "--model", "mlp-deep", "--latent", "4", "--epochs", "1", "--limit", "500",
                          "--batch", "50", "--pretrain-per-layer", "1")
    assert rc == 0, err
    assert [r["model"] for r in json.loads(stdout)["final"]][0] == "end to end"
    rc, stdout, _ = cli("pca", str(out), "--n", "200")
    res = json.loads(stdout)
    assert rc == 0 and res["k"] == 8 and res["pca_test_mse"] == pytest.approx(0.0374, abs=1e-4)
    rc, stdout, _ = cli("finetune", str(out), "--labels", "200", "--epochs", "2")
    assert rc == 0 and len(json.loads(stdout)) == 2


def test_train_with_the_defaults_on_a_small_imported_set_takes_a_batch_the_set_can_fill(data_home, tmp_path):
    """Issue 27 item 13: `python -m aecore train --dataset NAME` with the defaults failed on a small set ("batch size
    256 is larger than the 86 training images"); the default batch is now one the set can fill, as on the page."""
    from aecore.data import imported as datasets
    from aecore.data.shapes import write_shapes_folder

    datasets._load_cached.cache_clear()
    datasets.add(write_shapes_folder(tmp_path / "photos", n_classes=3, per_class=40, size=32), "few-shapes")
    out = tmp_path / "run"
    rc, stdout, err = cli("train", "--dataset", "few-shapes", "--latent", "4", "--epochs", "1", "--out", str(out))
    assert rc == 0, err
    assert "larger than" not in err
    batch = json.loads((out / "config.json").read_text())["batch_size"]
    n_train = datasets.info("few-shapes")["n_train"]  # 96, of which a share is kept for validation
    assert 2 <= batch < n_train, (batch, n_train)
    assert json.loads(stdout.strip().splitlines()[-1])["test_mse"] > 0
