"""Every page through Streamlit's AppTest: it renders on first load with the zoo, and its main controls work."""

import io
import json
import time

import pytest

from conftest import ROOT, ready_app_test

TIMEOUT = 120


def app(page: str | None = None, **query):
    at = ready_app_test(ROOT / "app.py", TIMEOUT)
    at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def labels(widgets):
    return [w.label for w in widgets]


def by_label(widgets, label):
    for w in widgets:
        if w.label == label:
            return w
    raise AssertionError(f"no widget {label!r} in {labels(widgets)}")


def charts(at):
    return at.get("plotly_chart")


def test_home_renders_data_and_presets():
    at = app()
    assert at.title[0].value == "AE Lab"
    assert any("MNIST" in s.value for s in at.subheader)
    assert len(charts(at)) >= 2  # code bars and per-digit counts
    for chart in charts(at)[:2]:  # small charts: plotly's zoom buttons covered their titles
        assert '"displayModeBar":false' in chart.proto.config.replace(" ", ""), chart.proto.config
    assert len(at.get("image")) >= 2
    # the digits go out as the PNGs the app drew (crisp pixels); Streamlit made every grey or colour PNG a JPEG at
    # quality 90 (smudged edges, on the very pictures that compare reconstructions), and re-encoded it on every run
    assert all(img.url.endswith(".png") for im in at.get("image") for img in im.proto.imgs)
    preset_buttons = [b for b in at.button if b.key and b.key.startswith("preset_")]
    assert len(preset_buttons) >= 5


def test_home_charts_are_made_once_for_every_session_and_show_each_splits_counts(monkeypatch):
    """Home's charts are the same for everyone: made once (charts.SHARED) and handed to each session, which only
    reads them, so the second student's page shows the same counts, and each split still shows its own."""
    import plotly.graph_objects as go

    made = []
    real = go.Figure.__init__
    monkeypatch.setattr(go.Figure, "__init__", lambda self, *a, **k: (made.append(1), real(self, *a, **k))[1])

    def counts(at) -> list[int]:
        spec = json.loads(next(c for c in charts(at) if "Images per digit" in c.proto.spec).proto.spec)
        return spec["data"][0]["y"], spec["layout"]["title"]["text"]

    first = app()
    assert counts(first) == ([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], "Images per digit (train: 60,000)")
    built = len(made)
    second = app()  # another student
    assert counts(second) == counts(first) and [c.proto.spec for c in charts(second)] == [c.proto.spec for c in charts(first)]
    assert len(made) == built  # nothing made again: both are what the first run made
    by_label(second.radio, "Split").set_value("test").run()
    assert counts(second) == ([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], "Images per digit (test: 10,000)")
    by_label(second.radio, "Split").set_value("train").run()
    assert counts(second) == counts(first)  # the shared figure was left as made


def test_home_preset_opens_latent_page_with_its_settings():
    at = app()
    next(b for b in at.button if b.key == "preset_latent-2d").click().run()
    assert not at.exception
    assert at.title[0].value == "Latent space"
    assert by_label(at.radio, "Projection").value == "raw"
    assert at.query_params.get("run") in ("zoo:conv-k2", ["zoo:conv-k2"])


def test_train_page_explains_invalid_settings():
    at = app("app_pages/train.py")
    assert at.title[0].value == "Train an autoencoder"
    assert any("Training runs on" in c.value for c in at.caption)
    assert by_label(at.number_input, "Learning rate").min > 0  # the widget itself refuses 0
    by_label(at.multiselect, "Digits to train on").set_value([]).run()
    assert any("digit subset is empty" in w.value for w in at.warning)
    assert by_label(at.button, "▶ Train").disabled
    by_label(at.multiselect, "Digits to train on").set_value([0]).run()
    by_label(at.number_input, "Batch size").set_value(20000).run()
    assert any("larger than the" in w.value for w in at.warning)


def wait_for_jobs(at, timeout=120):
    from app_pages.kit import session

    t = time.time()
    while any(j.active for j in session.engine()._store.jobs(workspace=at.session_state["ws"])):
        assert time.time() - t < timeout
        time.sleep(0.2)


def tiny_dense_run(epochs: int, images: int, latent: int | None = None):
    """The Train page set for a dense model trained in seconds: batches of 50 over `images` training images."""
    at = app("app_pages/train.py")
    by_label(at.selectbox, "Model").set_value("dense").run()
    if latent is not None:
        by_label(at.number_input, "Latent size k").set_value(latent)
    by_label(at.number_input, "Epochs").set_value(epochs)
    by_label(at.number_input, "Batch size").set_value(50)
    by_label(at.number_input, "Training images (0 = all)").set_value(images)
    return at.run()


def test_train_page_tiny_run_finishes_and_appears_in_picker():
    at = tiny_dense_run(epochs=2, images=600, latent=4)
    by_label(at.button, "▶ Train").click().run()
    assert not at.exception
    wait_for_jobs(at)
    at.run()
    assert not at.exception
    assert any(e.label.startswith("dense k=4") for e in at.expander)  # "Your runs": kept without saving
    took = next(c.value for c in at.caption if "of training on cpu" in c.value)
    assert not took.startswith("0.0 s"), took  # a run that took hundredths of a second said it took none
    loss = json.loads(next(c for c in charts(at) if "Loss per epoch" in c.proto.spec).proto.spec)  # its card's
    assert [t["name"] for t in loss["data"]] == ["train", "validation"]
    assert all(t["x"] == [1, 2] for t in loss["data"]) and loss["layout"]["xaxis"]["tickvals"] == [1, 2]  # 2 epochs
    # watch it learn: the run's recording replays with a slider over its steps (20 steps: 540 images, 50 a step)
    step = by_label(at.select_slider, "Training step")
    assert step.options[0] == "0" and step.options[-1] == "22" and step.value == 22
    assert any("reconstructions at step 22" in c for i in at.get("image") for c in i.captions)
    step.set_value(0).run()
    assert not at.exception
    assert any("reconstructions at step 0" in c for i in at.get("image") for c in i.captions)
    at.switch_page("app_pages/reconstructions.py").run()
    picker = by_label(at.sidebar.selectbox, "Model run")
    assert any(o.startswith("yours ·") for o in picker.options)
    assert picker.value.startswith("run:")  # and it is the run shown, not the zoo's


def test_watch_it_learn_replays_the_run_just_trained_not_the_one_before():
    at = tiny_dense_run(epochs=1, images=300)
    names = []
    for name in ("first of two", "second of two"):
        at.text_input(key="run_name").set_value(name).run()
        by_label(at.button, "▶ Train").click().run()
        wait_for_jobs(at)
        at.run()
        assert not at.exception
        replay = by_label(at.selectbox, "Replay the training of")
        names.append(replay.format_func(replay.value))
    assert names == ["first of two", "second of two"]  # the newest run, though the first was shown before


def test_a_denoiser_trained_on_the_denoising_page_can_be_shown_there():
    at = app("app_pages/denoising.py", run="zoo:conv-k16")
    by_label(at.number_input, "Epochs").set_value(1)
    by_label(at.number_input, "Training images (0 = all)").set_value(300)
    at.run()
    by_label(at.button, "▶ Train denoising conv AE").click().run()
    assert not at.exception
    assert any("It is also listed on the Train page" in c.value for c in at.caption)  # not a message gone in a moment
    wait_for_jobs(at)
    at.run()
    assert any(s.value.startswith("Trained: **denoising conv k=16") for s in at.success)
    at.button(key="show_denoiser").click().run()
    assert not at.exception
    assert by_label(at.sidebar.selectbox, "Model run").value.startswith("run:")
    assert any("trained on masking (pixels set to 0) at 0.5" in c.value for c in at.caption)  # it is the denoiser


def test_layer_wise_pretraining_trains_from_the_train_page():
    """Train → mlp-deep → pretraining epochs 1 → Train crashed the page (issue 27, item 1)."""
    from app_pages.kit import session

    at = app("app_pages/train.py")
    by_label(at.selectbox, "Model").set_value("mlp-deep").run()
    by_label(at.number_input, "Epochs").set_value(1)
    by_label(at.number_input, "Batch size").set_value(50)
    by_label(at.number_input, "Training images (0 = all)").set_value(600)
    by_label(at.number_input, "Layer-wise pretraining epochs").set_value(1)
    at.run()
    by_label(at.button, "▶ Train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = session.engine()._store.jobs(workspace=at.session_state["ws"])[0]
    assert job.kind == "train" and job.params["config"]["pretrain_epochs"] == 1
    wait_for_jobs(at)
    at.run()
    assert not at.exception
    assert session.engine()._store.job(job.id).status == "done"
    assert any(e.label.replace("\\", "").startswith("mlp-deep k=") and e.label.endswith("— done") for e in at.expander)
    # its name and card say it was pretrained (the loss chart shows the fine-tuning only)
    assert "pretrained 1 ep a layer" in job.label
    said = next(c.value for c in at.caption if c.value.startswith("Pretrained layer by layer first:"))
    assert "4 layer pairs, 1 epoch each" in said and "fine-tuning" in said


def test_stacked_ae_experiment_runs_from_its_tab():
    """Experiments → Stacked AE → Run experiment crashed the page (issue 27, item 1)."""
    at = app("app_pages/experiments.py", tab="Stacked AE")
    by_label(at.number_input, "Training images (0 = all)").set_value(600)
    by_label(at.number_input, "Epochs").set_value(1)
    at.run()
    by_label(at.button, "▶ Run experiment").click().run()  # waits for the job, then shows its result
    assert not at.exception, [e.value for e in at.exception]
    assert len(charts(at)) == 1 and len(at.dataframe) >= 1
    shown = {r for r in at.dataframe[0].value["model"]}
    assert len(shown) == 2  # end to end, and pretrained then fine-tuned


def test_upload_rejects_a_file_that_is_not_a_run():
    at = app("app_pages/train.py")
    at.file_uploader(key="upload_run").set_value(("evil.zip", b"\x89PNG\r\n\x1a\nnot really", "application/zip")).run()
    assert not at.exception
    assert any("not a usable run" in e.value for e in at.error)


def test_reconstructions_modes_and_second_run():
    at = app("app_pages/reconstructions.py", run="zoo:conv-k16")
    assert at.title[0].value == "Reconstructions"
    def shown(at):
        return [c for i in at.get("image") for c in i.captions if c.startswith("#")]

    random = shown(at)
    assert len(random) == 10
    by_label(at.radio, "Show").set_value("worst").run()
    worst = shown(at)
    assert worst != random
    errs = [float(c.split(" · ")[-1]) for c in worst]
    assert errs == sorted(errs, reverse=True) and errs[0] > max(float(c.split(" · ")[-1]) for c in random)
    mse = float(by_label(at.metric, "Test MSE per pixel").value)
    assert 0 < mse < 0.02
    assert by_label(at.selectbox, "Second run").value != "zoo:conv-k16"  # defaults to a different run
    by_label(at.selectbox, "Second run").set_value("zoo:linear-k32").run()
    assert not at.exception
    assert len(charts(at)) == 1
    side = [i.proto.imgs[0].url for i in at.get("image") if any("test MSE" in c for c in i.captions)]
    assert len(side) == 2 and side[0] != side[1]  # the two runs side by side, each its own reconstructions
    by_label(at.selectbox, "Second run").set_value("zoo:conv-k16-denoise").run()
    third = [i.proto.imgs[0].url for i in at.get("image") if any("test MSE" in c for c in i.captions)]
    assert third[0] == side[0] and third[1] not in side  # the same first grid (made once), another second one


def test_latent_space_projection_switch_changes_chart():
    at = app("app_pages/latent.py", run="zoo:conv-k2", method="raw")
    assert at.title[0].value == "Latent space"
    raw = charts(at)[0].proto.spec
    assert '"z1"' in raw
    by_label(at.radio, "Projection").set_value("pca").run()
    assert not at.exception
    pca = charts(at)[0].proto.spec
    assert pca != raw and "PC1" in pca and "of variance" in pca
    assert any(s.value == "Decoded latent plane" for s in at.subheader)
    assert any("decoder output over z1" in c for i in at.get("image") for c in i.captions)


def test_latent_space_tsne_and_digit_filter():
    at = app("app_pages/latent.py", run="zoo:conv-k16", method="tsne")
    by_label(at.slider, "Points").set_value(300).run()
    by_label(at.multiselect, "Digits shown").set_value([0, 1]).run()
    assert not at.exception
    spec = charts(at)[0].proto.spec
    assert '"name":"0"' in spec.replace(" ", "") and '"name":"7"' not in spec.replace(" ", "")


def test_latent_space_upload_digit_and_bad_image():
    from PIL import Image

    img = Image.new("RGB", (120, 120), "white")
    from PIL import ImageDraw

    ImageDraw.Draw(img).line([(60, 15), (60, 105)], fill="black", width=12)  # a "1", colour file
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    at = app("app_pages/latent.py", run="zoo:conv-k16", method="pca")
    at.file_uploader(key="digit_upload").set_value(("one.png", buf.getvalue(), "image/png")).run()
    at.run()
    assert not at.exception
    assert "your digit" in charts(at)[0].proto.spec
    at.file_uploader(key="digit_upload").set_value(("bad.png", b"GIF89a-broken", "image/png")).run()
    assert not at.exception
    assert any("cannot be used" in e.value for e in at.error)


def test_denoising_controls_change_the_numbers():
    at = app("app_pages/denoising.py", run="zoo:conv-k16-denoise")
    assert at.title[0].value == "Denoising"
    before = by_label(at.metric, "MSE of these 10 corrupted inputs").value
    after = by_label(at.metric, "MSE of these 10 after the model").value
    assert float(after) < float(before)  # the denoiser helps
    by_label(at.selectbox, "Corruption").set_value("gaussian").run()
    assert not at.exception
    assert by_label(at.metric, "MSE of these 10 corrupted inputs").value != before
    assert len(charts(at)) == 1
    by_label(at.selectbox, "Corruption").set_value("masking").run()  # back: the same ten, corrupted the same way
    assert by_label(at.metric, "MSE of these 10 corrupted inputs").value == before
    assert by_label(at.metric, "MSE of these 10 after the model").value == after
    other = app("app_pages/denoising.py", run="zoo:conv-k16")  # the plain AE on the same ten: its own numbers
    assert by_label(other.metric, "MSE of these 10 corrupted inputs").value == before
    assert float(by_label(other.metric, "MSE of these 10 after the model").value) > float(after)


@pytest.mark.parametrize("tab", ["Latent size", "A/B", "AE vs PCA", "Classification", "One digit", "Stacked AE"])
def test_experiments_tabs_render(tab):
    at = app("app_pages/experiments.py", run="zoo:linear-k32", tab=tab)
    assert at.title[0].value == "Experiments"
    if tab == "AE vs PCA":
        ae = float(by_label(at.metric, "Autoencoder test MSE (k=32)").value)
        pca = float(by_label(at.metric, "PCA test MSE (k=32)").value)
        assert pca == pytest.approx(0.0168, abs=2e-4) and ae < 0.03
    if tab == "Classification":
        assert len(charts(at)) == 1 and len(at.dataframe) >= 1
    if tab in ("Latent size", "A/B", "Stacked AE"):
        assert any(b.label == "▶ Run experiment" for b in at.button)


def test_experiments_ab_runs_in_background_and_shows_result(tmp_path, monkeypatch):
    at = app("app_pages/experiments.py", run="zoo:linear-k32", tab="A/B")
    by_label(at.selectbox, "Comparison").set_value("MSE vs BCE loss").run()
    by_label(at.number_input, "Epochs").set_value(1)
    by_label(at.number_input, "Training images (0 = all)").set_value(500)
    by_label(at.number_input, "Batch size").set_value(50)
    at.run()
    by_label(at.button, "▶ Run experiment").click().run()
    wait_for_jobs(at)
    at.run()
    assert not at.exception
    assert len(charts(at)) == 1 and len(at.dataframe) == 1
    assert len(at.dataframe[0].value) == 2


def test_teacher_view_needs_the_key_and_shows_every_workspace(tiny, mnist):
    from aecore.engine.keep import keep_run
    from aecore.training.trainer import train
    from app_pages.kit import session

    eng = session.engine()
    keep_run(eng._store, "someone-elses-ws", train(tiny(), mnist), "a student's run")
    eng.settings.teacher_key = "let-me-in"
    try:
        at = app()
        links = [p.proto.label for p in at.sidebar.get("page_link")]
        assert "Train" in links and "Teacher" not in links  # no key: no teacher page
        at = app(teacher="let-me-in")
        assert "Teacher" in [p.proto.label for p in at.sidebar.get("page_link")]
        at.switch_page("app_pages/teacher.py").run()
        assert not at.exception
        assert at.title[0].value == "Teacher view"
        assert any("a student's run" in c.value for c in at.caption)
        assert any(b.label == "Publish" for b in at.button)
    finally:
        eng.settings.teacher_key = ""


def test_another_workspaces_unshared_run_cannot_be_opened_from_a_link(tiny, mnist):
    from aecore.engine.keep import keep_run
    from aecore.training.trainer import train
    from app_pages.kit import session

    run_id = keep_run(session.engine()._store, "not-your-workspace", train(tiny(), mnist), "private")
    at = app("app_pages/reconstructions.py", run=f"run:{run_id}")
    assert not at.exception
    assert at.sidebar.selectbox[0].value != f"run:{run_id}" and f"run:{run_id}" not in at.sidebar.selectbox[0].options


def open_page(at, page: str, **link):
    """Open another page as a link does: the browser's address then holds only what the link carries (the sidebar's:
    the workspace), where AppTest would keep the page's address from before."""
    ws = at.session_state["ws"]
    at.query_params.clear()
    at.query_params.update({"ws": ws, **link})
    return at.switch_page(page).run()


def test_a_link_to_another_page_sets_what_it_carries_even_if_this_page_wrote_the_same(tmp_path):
    """Data sets → Look at: my-shapes (?dataset=my-shapes) → "Train a model on my-shapes" opened Train on MNIST: the
    link's dataset=my-shapes looked like the address's own value, written by the Data sets page."""
    from aecore.data import imported as datasets
    from aecore.data.shapes import write_shapes_folder

    name = f"linked-{tmp_path.name[-6:].lower().replace('_', '-')}"
    datasets.add(write_shapes_folder(tmp_path / "src", 3, 8, 16), name, size=16)
    try:
        at = app("app_pages/train.py")
        assert by_label(at.selectbox, "Data set").value == "mnist"
        at = open_page(at, "app_pages/data.py")
        by_label(at.selectbox, "Look at").set_value(name).run()
        assert at.query_params["dataset"] in (name, [name])
        at = open_page(at, "app_pages/train.py", dataset=name)  # the page's link "Train a model on …"
        assert not at.exception
        assert by_label(at.selectbox, "Data set").value == name
    finally:
        datasets.remove(name)


def test_reconstructions_of_a_small_set_say_how_many_there_are_and_the_chosen_class_is_in_the_address(tmp_path):
    """A set with 6 test images showed 6 under "How many 10", and a reload forgot the chosen digit (class)."""
    from aecore.data import imported as datasets
    from aecore.data.shapes import write_shapes_folder
    from aecore.engine.keep import keep_run
    from aecore.training.config import TrainConfig
    from aecore.training.trainer import train
    from app_pages.kit import session

    name = f"few-{tmp_path.name[-6:].lower().replace('_', '-')}"
    datasets.add(write_shapes_folder(tmp_path / "src", 3, 10, 16), name, size=16, test_fraction=0.2)  # 6 test images
    at = app("app_pages/train.py")
    ws = at.session_state["ws"]
    config = TrainConfig(model="conv", latent=4, epochs=1, batch_size=8, dataset=name, device="cpu")
    run_id = keep_run(session.engine()._store, ws, train(config, session.dataset(name)), "few shapes")
    try:
        at = open_page(at, "app_pages/reconstructions.py", run=f"run:{run_id}")
        how_many = by_label(at.slider, "How many")
        assert not at.exception and how_many.max == 6 and how_many.value == 6  # all there are, not "10"
        assert sum(c.startswith("#") for i in at.get("image") for c in i.captions) == 6  # one column per test image
        by_label(at.radio, "Show").set_value("digit").run()
        by_label(at.selectbox, "Class").set_value(2).run()
        assert not at.exception and at.query_params["digit"] in ("2", ["2"])  # a reload shows the same class
        assert any(c.value.startswith("The test set has only 2 images of") for c in at.caption)
        by_label(at.radio, "Show").set_value("worst").run()
        assert "digit" not in at.query_params  # it names only what the view uses
    finally:
        session.engine()._store.delete_run(run_id, ws)
        datasets.remove(name)


def test_the_sidebar_model_run_follows_what_the_student_trains(tiny, mnist):
    """A student who looked at the zoo's model, then trained a run, finds their run on the next page (with a toast
    that says so); one they pick afterwards stays picked; a run that ends while they look at a page changes it only
    when they open the next; a new session opens on their newest run; a link's run wins."""
    from aecore.engine.client import new_token
    from aecore.engine.keep import keep_run
    from aecore.training.trainer import train
    from app_pages.kit import session

    store = session.engine()._store  # (opens the data home)
    ws = new_token()

    def model_run(at):
        return by_label(at.sidebar.selectbox, "Model run").value

    at = app("app_pages/latent.py", ws=ws, method="pca")
    assert model_run(at) == "zoo:conv-k16"  # nothing of theirs yet
    run_id = keep_run(store, ws, train(tiny(), mnist), "my first run")  # as ▶ Train keeps it
    second = None
    try:
        open_page(at, "app_pages/reconstructions.py")
        assert not at.exception and model_run(at) == f"run:{run_id}"
        assert any("my first run" in t and "now the model run" in t for t in at.toasts_shown), at.toasts_shown
        labels = [j.label for j in store.jobs(workspace=ws) if "zoo:" not in j.label]  # the jobs for it are named
        assert labels and all("“my first run”" in label and "run:" not in label for label in labels), labels  # by name
        shown = len(at.toasts_shown)
        by_label(at.sidebar.selectbox, "Model run").set_value("zoo:conv-k2").run()
        open_page(at, "app_pages/latent.py")
        assert model_run(at) == "zoo:conv-k2" and len(at.toasts_shown) == shown  # their own pick stays
        second = keep_run(store, ws, train(tiny(), mnist), "my second run")  # it ends while they look at the map
        at.run()
        assert model_run(at) == "zoo:conv-k2"  # never changed under the page they look at ...
        open_page(at, "app_pages/denoising.py")
        assert model_run(at) == f"run:{second}"  # ... but on the next page they open
        assert model_run(app("app_pages/denoising.py", ws=ws)) == f"run:{second}"  # a new session: their newest
        assert model_run(app("app_pages/latent.py", ws=ws, run="zoo:conv-k2", method="pca")) == "zoo:conv-k2"  # a link
    finally:
        for made in (run_id, second):
            if made:
                store.delete_run(made, ws)


def test_denoising_says_what_the_model_was_trained_on():
    at = app("app_pages/denoising.py", run="zoo:conv-k16-denoise")
    assert not at.warning and any("the same corruption as chosen here" in c.value for c in at.caption)
    by_label(at.selectbox, "Corruption").set_value("saltpepper").run()
    assert not at.exception
    assert any("trained on masking (pixels set to 0) at 0.5, but you chose salt and pepper" in w.value for w in at.warning)
    plain = app("app_pages/denoising.py", run="zoo:conv-k16")
    assert any("trained on clean images only" in i.value for i in plain.info)


def test_one_digit_tab_warns_about_a_run_trained_on_every_digit():
    # The tab draws these warnings before it asks the engine for its ROC AUC, so the page is opened with a plain
    # AppTest that does not wait for that job: app() waits until every engine job of the server has ended (on a GPU
    # machine that included workers starting up and GPU jobs of other tests), none of which these warnings need.
    # Each script run is bounded by TIMEOUT; the anomaly jobs it queues finish in the workers meanwhile.
    from streamlit.testing.v1 import AppTest

    def page(run: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
        at.query_params.update(run=run, tab="One digit")
        at.run()
        at.switch_page("app_pages/experiments.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    at = page("zoo:linear-k32")
    assert any("not on one digit only" in w.value for w in at.warning)
    only1 = page("zoo:conv-k16-only1")
    assert not any("one digit only" in w.value or "only, but" in w.value for w in only1.warning)
    by_label(only1.multiselect, "Normal digits").set_value([7]).run()
    assert not only1.exception, [e.value for e in only1.exception]
    assert any("trained on the digit 1 only, but the normal digits picked here are 7" in w.value for w in only1.warning)


def test_more_settings_are_drawn_only_when_open_and_used_when_closed():
    from app_pages.kit import session

    at = app("app_pages/train.py")
    assert "weight_decay" not in [w.key for w in at.number_input]  # closed: its controls are not drawn…
    assert any("Optimizer adam · loss MSE · output sigmoid · upsampling ConvTranspose2d · seed 0. Learning rate constant · "
               "weight decay 0 · 10% held out for validation · width 32 · precision auto" in c.value
               for c in at.caption)  # …and a line says what the run will use
    at.session_state["more_settings"] = True  # (a click on the section)
    at.run()
    at.number_input(key="weight_decay").set_value(1e-4).run()
    at.selectbox(key="schedule").set_value("onecycle").run()
    at.selectbox(key="optimizer").set_value("adamw").run()
    at.session_state["more_settings"] = False
    at.run()
    assert not at.exception and "weight_decay" not in [w.key for w in at.number_input]
    assert any("Optimizer adamw" in c.value and "Learning rate one-cycle (warm up, then anneal) · weight decay 0.0001"
               in c.value for c in at.caption)
    address = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert (address["optimizer"], address["schedule"], address["weight_decay"], address["seed"]) == (
        "adamw", "onecycle", "0.0001", "0")  # in the address, the section closed …
    again = app("app_pages/train.py", **address)  # … so a reload (a new session at that address) keeps them
    assert any("Optimizer adamw" in c.value and "Learning rate one-cycle (warm up, then anneal) · weight decay 0.0001"
               in c.value for c in again.caption), [c.value for c in again.caption]
    by_label(at.selectbox, "Model").set_value("dense").run()
    by_label(at.number_input, "Epochs").set_value(1)
    by_label(at.number_input, "Batch size").set_value(50)
    by_label(at.number_input, "Training images (0 = all)").set_value(600)
    at.run()
    by_label(at.button, "▶ Train").click().run()  # the job trains with what the closed section says
    assert not at.exception, [e.value for e in at.exception]
    job = session.engine()._store.jobs(workspace=at.session_state["ws"])[0]
    config = job.params["config"]
    assert (config["weight_decay"], config["schedule"], config["optimizer"]) == (1e-4, "onecycle", "adamw")
    wait_for_jobs(at)


def test_the_address_names_only_the_settings_the_chosen_model_uses():
    """A setting the chosen model has no use for (a hidden activation on conv, a latent size on conv-bn, whose code
    map fixes it) leaves the address, so a link says only what the page uses; the session still remembers it."""
    def address(at) -> dict:
        return {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}

    at = app("app_pages/train.py", model="mlp-hinton", hidden_act="tanh", pretrain="2", noise="masking", level="0.4")
    a = address(at)
    assert (a["model"], a["hidden_act"], a["pretrain"], a["latent"], a["level"]) == ("mlp-hinton", "tanh", "2", "30", "0.4")
    assert "upsample" not in a and "width" not in a  # a dense model: no decoder upsampling, no conv width
    by_label(at.selectbox, "Model").set_value("conv").run()
    a = address(at)
    assert not at.exception and "hidden_act" not in a and "pretrain" not in a
    assert (a["latent"], a["upsample"], a["width"]) == ("16", "transpose", "32")
    by_label(at.selectbox, "Model").set_value("conv-bn").run()
    assert "latent" not in address(at) and "width" not in address(at)  # fixed by its code map; no width setting
    by_label(at.selectbox, "Input corruption (denoising)").set_value("none").run()
    assert "level" not in address(at) and address(at)["noise"] == "none"
    by_label(at.selectbox, "Model").set_value("mlp-hinton").run()  # back: the session kept what was chosen
    a = address(at)
    assert (a["hidden_act"], a["pretrain"], a["latent"]) == ("tanh", "2", "30") and "upsample" not in a


def test_train_page_copies_a_zoo_models_recipe_into_every_setting():
    at = app("app_pages/train.py")
    at.session_state["more_settings"] = True  # the recipe is offered in the open section
    at.run()
    at.selectbox(key="recipe").set_value("conv-k16").run()
    assert not at.exception
    config = __import__("aecore.training.zoo", fromlist=["load_zoo"]).load_zoo("conv-k16").config
    assert at.selectbox(key="model").value == "conv" and at.number_input(key="latent_conv").value == 16
    assert at.number_input(key="epochs").value == config.epochs and at.number_input(key="batch_mnist").value == config.batch_size
    assert at.selectbox(key="optimizer").value == config.optimizer and at.selectbox(key="schedule").value == config.schedule
    assert at.number_input(key="weight_decay").value == config.weight_decay
    assert at.number_input(key="val_share").value == config.val_fraction
    assert at.selectbox(key="precision").value == config.precision
    assert any("Filled in the recipe of conv-k16" in i.value for i in at.info)
    assert not at.warning  # the copied settings are valid: ▶ Train is ready


@pytest.fixture
def shapes_set(tmp_path):
    """A small imported colour data set (4 classes of generated shapes) in the data home the app reads."""
    import numpy as np

    from aecore.data import imported as datasets
    from aecore.data.shapes import make_shapes

    x, y, names = make_shapes(4, 20, 32, seed=0)
    np.savez(tmp_path / "s.npz", x=x, y=y, class_names=np.array(names))
    datasets.add(tmp_path / "s.npz", "apptest-shapes", replace=True)
    yield "apptest-shapes"
    datasets.remove("apptest-shapes")


def test_data_page_shows_each_set_its_classes_and_refuses_an_import_without_a_file(shapes_set):
    at = app("app_pages/data.py")
    assert at.title[0].value == "Data sets"
    table = at.dataframe[0].value
    assert {"mnist", shapes_set} <= set(table["name"]) and list(table[table.name == "mnist"]["here"]) == ["yes"]
    assert any("0, 1, 2" in i.captions[0] for i in at.get("image"))  # MNIST: one row per digit
    by_label(at.selectbox, "Look at").set_value(shapes_set).run()
    assert not at.exception
    assert [m.value for m in at.metric][:4] == ["32×32 colour", "64", "16", "4"]
    assert any("circle, square, triangle, cross" in c for i in at.get("image") for c in i.captions), [i.captions for i in at.get("image")]
    by_label(at.text_input, "Name").set_value("my-set")
    next(b for b in at.button if b.label == "Import").click().run()
    assert any("choose a zip or .npz file first" in e.value for e in at.error)


def test_train_page_on_an_imported_set_offers_only_models_that_take_it(shapes_set):
    at = app("app_pages/train.py", dataset=shapes_set)
    assert by_label(at.selectbox, "Data set").value == shapes_set
    models = by_label(at.selectbox, "Model").options
    assert any(o.startswith("conv —") for o in models) and not any(o.startswith("dense —") for o in models)
    classes = by_label(at.multiselect, "Classes to train on")
    assert classes.options == ["circle", "square", "triangle", "cross"]  # the .npz keeps its class order
    assert any("32×32 colour images, 64 for training, 4 classes" in c.value for c in at.caption)
    # the batch size fits the 58 images it trains on (64 less the validation share), and the page says so
    assert by_label(at.number_input, "Batch size").value == 14 and not at.warning, [w.value for w in at.warning]
    assert any("58 images train" in c.value and "batches of 14 give 5 steps an epoch" in c.value for c in at.caption)
    assert not by_label(at.button, "▶ Train").disabled
    by_label(at.number_input, "Batch size").set_value(16).run()
    assert not at.warning and not by_label(at.button, "▶ Train").disabled, [w.value for w in at.warning]
    at.session_state["more_settings"] = True
    at.run()
    at.selectbox(key="recipe").set_value("conv-k16").run()  # a zoo model's recipe includes its data set
    assert by_label(at.selectbox, "Data set").value == "mnist" and by_label(at.multiselect, "Digits to train on")


def test_a_run_on_an_imported_set_shows_on_every_page_that_reads_it_by_class_name(shapes_set):
    """A kept run trained on the shapes: the latent map is coloured by class name, Reconstructions and Denoising show it
    in colour, the Experiments page's run-based tabs name its classes."""
    from aecore.training.config import TrainConfig
    from aecore.engine.keep import keep_run
    from aecore.training.trainer import train
    from app_pages.kit import session

    from aecore.engine.client import new_token

    ws = new_token()
    run = train(TrainConfig(model="conv", latent=4, epochs=2, batch_size=16, dataset=shapes_set, device="cpu"))
    run_id = keep_run(session.engine()._store, ws, run, "my shapes run")
    try:
        at = app("app_pages/latent.py", ws=ws, run=f"run:{run_id}", method="pca")
        assert by_label(at.multiselect, "Classes shown").options == ["circle", "square", "triangle", "cross"]
        spec = charts(at)[0].proto.spec
        assert all(f'"name":"{c}"' in spec.replace(" ", "") for c in ("circle", "square", "triangle", "cross"))
        assert "of 16 test images" in spec and "Colour by" in labels(at.selectbox)
        assert by_label(at.selectbox, "Colour by").value == "digit" and "class" in by_label(at.selectbox, "Colour by").options[0]
        at.switch_page("app_pages/reconstructions.py").run()
        by_label(at.sidebar.selectbox, "Model run").set_value(f"run:{run_id}").run()
        assert not at.exception and any(s.value == "Error per class" for s in at.subheader)
        at.switch_page("app_pages/denoising.py").run()
        by_label(at.sidebar.selectbox, "Model run").set_value(f"run:{run_id}").run()
        assert not at.exception and any("coloured speckles" in c.value for c in at.caption)
        ex = app("app_pages/experiments.py", ws=ws, run=f"run:{run_id}", tab="AE vs PCA")
        spec = charts(ex)[0].proto.spec.replace(" ", "")
        assert all(f'"name":"{c}"' in spec for c in ("circle", "square", "triangle", "cross"))  # both code maps by class
        assert any("middle: autoencoder · bottom: PCA" in c for i in ex.get("image") for c in i.captions)
        assert [m.label for m in ex.metric] == ["Autoencoder test MSE (k=4)", "PCA test MSE (k=4)"]
        ex = app("app_pages/experiments.py", ws=ws, run=f"run:{run_id}", tab="One digit")
        assert any("trained on all 4 classes, not on one class only" in w.value for w in ex.warning)
        assert by_label(ex.multiselect, "Normal classes").options == ["circle", "square", "triangle", "cross"]
    finally:
        session.engine()._store.delete_run(run_id, ws)


def test_a_student_name_reaches_the_teacher_view_as_plain_text():
    from app_pages.kit import session

    eng = session.engine()
    at = app("app_pages/train.py")
    by_label(at.text_input, "Your name for the teacher (optional)").input("[Ada](http://evil.example)").run()
    assert not at.exception
    kept = eng.student_names()
    assert "[Ada](http://evil.example)" in kept.values(), kept  # (the store's bound of 40: tests/test_engine.py)
    eng.settings.teacher_key = "let-me-in"
    try:
        teacher = app(teacher="let-me-in")
        eng._store.submit(next(w for w, n in kept.items() if n.startswith("[Ada]")), "codes", {"run": "zoo:conv-k2"},
                          "a student's job")
        teacher.switch_page("app_pages/teacher.py").run()
        assert not teacher.exception
        shown = [m.value for m in teacher.markdown if "a student" in m.value]  # while it is queued or running
        ended = [n for d in teacher.dataframe for n in d.value.get("student", [])]  # once a worker has done it
        assert (shown and "\\[Ada\\]\\(http" in shown[0]) or any(n.startswith("[Ada]") for n in ended), (shown, ended)
        assert any(m.label == "Live training workers" for m in teacher.metric)
    finally:
        eng.settings.teacher_key = ""
