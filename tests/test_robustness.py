"""Bad input in the app: clear messages, the app keeps working, earlier runs stay intact."""

import os
import shutil
import time


from conftest import ROOT, ready_app_test


def open_page(page, **query):
    at = ready_app_test(ROOT / "app.py", 120)
    at.query_params.update(query)
    at.run()
    at.switch_page(page).run()
    return at


def test_kept_run_deleted_while_in_use(mnist, tiny):
    from aecore.engine.keep import keep_run
    from aecore.engine.store import Store
    from aecore.training.trainer import train

    at = open_page("app_pages/train.py")
    ws = at.session_state["ws"]
    store = Store(os.environ["AELAB_HOME"])
    run_id = keep_run(store, ws, train(tiny(), mnist), "class demo")
    at.switch_page("app_pages/reconstructions.py").run()
    at.sidebar.selectbox[0].set_value(f"run:{run_id}").run()
    assert not at.exception and at.sidebar.selectbox[0].value == f"run:{run_id}"
    shutil.rmtree(store.run_dir(ws, run_id))  # its files vanish (e.g. a disk clean-up) while it is open
    store.delete_run(run_id)
    at.run()
    assert not at.exception
    # the deleted run is no longer offered; the page falls back to another run and still draws
    assert f"run:{run_id}" not in at.sidebar.selectbox[0].options
    assert at.title[0].value == "Reconstructions" and len(at.get("image")) >= 1


def test_foreign_weights_upload_keeps_earlier_runs(mnist, tiny):
    import io
    import json
    import zipfile

    from aecore.training.runs import run_to_bytes
    from aecore.training.trainer import train

    data = run_to_bytes(train(tiny(), mnist))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    cfg = json.loads(files["config.json"])
    cfg["latent"] = 3  # the weights are for k=8
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, b in {**files, "config.json": json.dumps(cfg).encode()}.items():
            z.writestr(n, b)

    at = open_page("app_pages/train.py")
    at.file_uploader(key="upload_run").set_value(("good.zip", data, "application/zip")).run()
    assert not at.exception
    at.run()
    runs = lambda: [e for e in at.expander if not e.label.startswith("More settings")]  # noqa: E731  (the run list)
    n_runs = len(runs())
    assert n_runs == 1
    at.file_uploader(key="upload_run").set_value(("foreign.zip", buf.getvalue(), "application/zip")).run()
    assert not at.exception
    assert any("do not match" in e.value for e in at.error)
    assert len(runs()) == n_runs  # the earlier run is still there


def test_stop_during_first_step_from_the_page(mnist):
    from app_pages.kit import session

    at = open_page("app_pages/train.py", model="dense", latent="4", epochs="50", batch="50", limit="2000")
    next(b for b in at.button if b.label == "▶ Train").click().run()
    store = session.engine()._store
    job = store.jobs(workspace=at.session_state["ws"])[0]
    t = time.time()
    while store.job(job.id).status == "queued" and time.time() - t < 120:  # a worker process picks it up
        time.sleep(0.05)
    store.request_stop(job.id, at.session_state["ws"])  # within its first steps
    t = time.time()
    while store.job(job.id).active and time.time() - t < 120:
        time.sleep(0.1)
    at.run()
    assert not at.exception
    assert store.job(job.id).status == "stopped"
    assert any(e.label.startswith("dense k=4") for e in at.expander)  # the weights so far are kept as a run
