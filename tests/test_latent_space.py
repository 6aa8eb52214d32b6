"""Latent maps in 2-D and 3-D: UMAP's live layout, exact placement of new images, the points' fields, the jobs."""

import numpy as np
import pytest

from aecore.models.evaluate import encode
from aecore.analysis.projection import Placer, ProjectionError, project


@pytest.fixture(scope="module")
def codes(mnist):
    from aecore.training.zoo import load_zoo

    run = load_zoo("conv-k16")
    return run, encode(run.model, mnist.test.x[:400])  # [400, 16]


@pytest.mark.parametrize("method", ["raw", "pca", "tsne", "umap"])
def test_every_method_draws_3d_and_places_exactly(codes, method):
    _, z = codes
    a = project(z, method, seed=2, dims=3, perplexity=20, n_neighbors=10, keep=True)
    assert a.xy.shape == (400, 3)
    if method == "raw":
        assert np.allclose(a.xy, z[:, :3])  # the first three code numbers
    if method == "pca":
        assert len(a.info["explained_variance"]) == 3 and a.info["explained_variance"][0] > a.info["explained_variance"][2]
    placer = Placer.from_bytes(a.placer.to_bytes())  # as the job keeps it on disk
    placed = placer.place(z[:4])
    assert placed.shape == (4, 3)
    if method in ("raw", "pca"):
        assert np.allclose(placed, a.xy[:4], atol=1e-4)  # exactly where the map has them
    else:  # a test image placed through the method's transform lands by its own point
        spread = np.ptp(a.xy, axis=0).max()  # (UMAP's transform is approximate: the rebuilt zoo's conv-k16 puts one
        assert np.all(np.linalg.norm(placed - a.xy[:4], axis=1) < 0.08 * spread)  # of four at 5.1% of the spread)


def test_tsne_2d_transform_lands_by_its_own_point(codes):
    _, z = codes  # (same seed, same layout: tests/test_evaluate_projection.py)
    a = project(z, "tsne", seed=4, keep=True)
    placed = a.placer.place(z[10:14])
    assert np.all(np.linalg.norm(placed - a.xy[10:14], axis=1) < 0.05 * np.ptp(a.xy, axis=0).max())


def test_umap_streams_its_layout_and_a_stop_keeps_it(codes):
    _, z = codes
    seen = []
    full = project(z, "umap", seed=5, n_neighbors=10, on_layout=lambda xy, d, t: seen.append((d, t, xy.copy())) and False)
    done = [d for d, _, _ in seen]
    assert done[0] == 0 and done[1] > 0 and done[-1] == seen[-1][1] == full.info["iterations"]
    assert len(seen) >= 20 and all(xy.shape == (400, 2) for _, _, xy in seen)
    assert np.allclose(seen[-1][2], full.xy)
    again = project(z, "umap", seed=5, n_neighbors=10)
    assert np.allclose(again.xy, full.xy)  # watching changes nothing: same seed, same layout
    stopped = project(z, "umap", seed=5, n_neighbors=10, on_layout=lambda xy, d, t: d >= 100)
    assert stopped.info["stopped_at"] == 100 and stopped.placer is None
    assert not np.allclose(stopped.xy, full.xy)
    import umap.layouts

    assert umap.layouts.tqdm.__name__ != "epochs"  # umap's own loop is put back afterwards


@pytest.fixture
def one_thread():
    # TorchDR's exact t-SNE is thousands of tiny steps: on two OpenMP threads it slows down badly whenever another
    # process takes a core; one thread keeps these tests at a few seconds whatever else runs
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_gpu_tsne_path_streams_stops_repeats_and_places(codes, mnist, one_thread):
    # TorchDR is the t-SNE the page runs on a GPU; here it runs on the CPU, on 300 codes, through the same contract
    pytest.importorskip("torchdr")
    from aecore.analysis.tsne_gpu import GPU_TSNE_ITERATIONS, gpu_tsne_available

    _, z = codes
    z, labels = z[:300], mnist.test.y[:300]
    total = sum(GPU_TSNE_ITERATIONS)
    seen = []
    full = project(z, "tsne", seed=3, tsne_backend="torchdr", keep=True,
                   on_layout=lambda xy, d, t: seen.append((d, t, xy.copy())) and False)
    assert "TorchDR" in full.info["backend"] and full.info["iterations"] == total
    assert [d for d, _, _ in seen[:3]] == [0, 25, 50] and seen[-1][0] == total and len(seen) == total // 25 + 1
    assert np.allclose(seen[-1][2], full.xy)
    # the layout keeps digits apart: a point's nearest neighbour on the map is mostly of its own digit
    d = np.linalg.norm(full.xy[:, None] - full.xy[None], axis=-1) + np.eye(300) * 1e9
    assert np.mean(labels[d.argmin(1)] == labels) > 0.8
    # same seed, same layout: a run stopped at 100 iterations is the full run's frame at 100
    stopped = project(z, "tsne", seed=3, tsne_backend="torchdr", on_layout=lambda xy, d, t: d >= 100)
    assert stopped.info["stopped_at"] == 100 and stopped.placer is None
    assert np.allclose(stopped.xy, dict((d, xy) for d, _, xy in seen)[100], atol=1e-5)
    # a test image placed through openTSNE's transform on the GPU's layout lands by its own point
    placed = Placer.from_bytes(full.placer.to_bytes()).place(z[10:14])
    assert np.all(np.linalg.norm(placed - full.xy[10:14], axis=1) < 0.05 * np.ptp(full.xy, axis=0).max())
    cloud = project(z, "tsne", seed=3, dims=3, tsne_backend="torchdr", on_layout=lambda xy, d, t: d >= 50)
    assert cloud.xy.shape == (300, 3)
    # "auto" picks TorchDR only for a CUDA device
    assert not gpu_tsne_available("cpu", 300)
    assert "openTSNE" in project(z, "tsne", seed=3, device="cpu").info["backend"]
    with pytest.raises(ProjectionError, match="t-SNE backend"):
        project(z, "tsne", tsne_backend="sklearn")


def test_gpu_tsne_keeps_repeated_codes_in_their_places(codes, monkeypatch, one_thread):
    # repeated codes (imported images, dead code units) must not turn the frames streamed, or the layout kept on
    # Stop, into a layout of the unique codes in sorted order (TorchDR's default)
    pytest.importorskip("torchdr")
    import aecore.analysis.tsne_gpu

    monkeypatch.setattr(aecore.analysis.tsne_gpu, "GPU_TSNE_ITERATIONS", (50, 150))  # a short run is enough here
    _, z = codes
    z = np.concatenate([z[:250], z[:50]])  # [300, 16]: points 250..299 repeat points 0..49
    frames = {}
    stopped = project(z, "tsne", seed=0, tsne_backend="torchdr",
                      on_layout=lambda xy, d, t: frames.setdefault(d, xy) is None or d >= 100)
    assert stopped.info["stopped_at"] == 100
    assert all(xy.shape == (300, 2) for xy in frames.values()) and np.array_equal(stopped.xy, frames[100])
    assert not np.shares_memory(frames[50], frames[100])  # each frame is a copy, not a view of the live layout
    full = project(z, "tsne", seed=0, tsne_backend="torchdr")
    twins = np.linalg.norm(full.xy[250:] - full.xy[:50], axis=1)  # [50]: a repeated point ends on its twin
    assert np.median(twins) < 0.01 * np.median(np.linalg.norm(full.xy[250:] - full.xy[50:100], axis=1))


def test_gpu_tsne_is_chosen_only_on_a_cuda_device_with_room():
    from aecore.analysis.tsne_gpu import GPU_TSNE_MAX, gpu_tsne_available, gpu_tsne_bytes

    assert not gpu_tsne_available("cpu", 300)
    assert not gpu_tsne_available("cuda", GPU_TSNE_MAX + 1)
    assert 20e9 < gpu_tsne_bytes(30000) < 30e9  # six 30,000 x 30,000 float32 matrices and a margin


@pytest.mark.parametrize("error", [RuntimeError("CUDA out of memory. Tried to allocate 20 GiB"),
                                   ValueError("[TorchDR] ERROR : NaNs in the embeddings"),
                                   ImportError("No module named 'matplotlib'")])
def test_a_failing_gpu_tsne_falls_back_to_the_cpu(codes, monkeypatch, error):
    import aecore.analysis.tsne_gpu

    def fails(*a, **k):
        raise error

    monkeypatch.setattr(aecore.analysis.tsne_gpu, "gpu_tsne_available", lambda device, n: True)
    monkeypatch.setattr(aecore.analysis.tsne_gpu, "tsne_torchdr", fails)
    _, z = codes
    p = project(z[:200], "tsne", seed=1, device="cuda", keep=True)
    assert "openTSNE" in p.info["backend"] and p.info["gpu_error"].startswith(f"{type(error).__name__}: {error}"[:40])
    assert p.xy.shape == (200, 2) and p.placer is not None


def test_the_callers_own_error_is_not_taken_for_a_gpu_failure(codes, monkeypatch, one_thread):
    pytest.importorskip("torchdr")
    import aecore.analysis.tsne_gpu

    monkeypatch.setattr(aecore.analysis.tsne_gpu, "gpu_tsne_available", lambda device, n: True)
    monkeypatch.setattr(aecore.analysis.tsne_gpu, "GPU_TSNE_ITERATIONS", (50, 150))

    def store_fails(xy, done, total):
        if done >= 50:
            raise KeyError("the job's row is gone")
        return False

    _, z = codes
    with pytest.raises(KeyError, match="row is gone"):  # raised as it is, not a CPU t-SNE run instead
        project(z[:200], "tsne", seed=1, device="cpu", on_layout=store_fails)


def test_tsne_shows_a_first_frame_before_its_affinities(codes):
    _, z = codes
    first = project(z, "tsne", seed=0, on_layout=lambda xy, d, t: True)  # stop at the very first frame
    assert first.info["stopped_at"] == 0 and first.xy.shape == (400, 2)


def test_bad_dims_and_points_helpers(mnist):
    from aecore.analysis.latent import layout_points, point_name, pool_images, pool_labels

    with pytest.raises(ProjectionError, match="2 or 3"):
        project(np.zeros((10, 4), np.float32), "pca", dims=4)
    labels = pool_labels(mnist, "all")
    assert len(labels) == 70000 and labels[10000] == mnist.train.y[0]
    imgs = pool_images(mnist, [3, 10000 + 5])
    assert np.array_equal(imgs[0], mnist.test.x[3]) and np.array_equal(imgs[1], mnist.train.x[5])
    assert point_name(12) == "test image #12" and point_name(10005) == "training image #5"
    idx = layout_points({"indices": [5, 3, 3, 60000], "digits": None}, labels)
    assert list(idx) == [3, 5, 60000]
    only = layout_points({"indices": list(range(50)), "digits": [1]}, labels)
    assert set(labels[only]) == {1}
    with pytest.raises(ProjectionError, match="outside"):
        layout_points({"indices": [70000]}, labels)


@pytest.mark.parametrize("method", ["umap", "tsne-gpu"])
def test_projection_job_keeps_fields_and_places_a_new_image(tmp_path, mnist, monkeypatch, method, one_thread):
    if method == "tsne-gpu":  # as on a CUDA machine, where TorchDR lays the map out (here it runs on the CPU)
        pytest.importorskip("torchdr")
        import aecore.analysis.tsne_gpu

        monkeypatch.setattr(aecore.analysis.tsne_gpu, "gpu_tsne_available", lambda device, n: True)
    from aecore.settings import Settings
    from aecore.engine.store import DONE, Store
    from aecore.engine.submit import submit
    from aecore.engine.worker import Worker
    from aecore.analysis.results import ResultStore

    store = Store(tmp_path / "home")
    settings = Settings(home=str(tmp_path / "home"), workers=1, threads=1, stale_s=60)
    layout = {"run": "zoo:conv-k16", "method": method.split("-")[0], "n": 300, "seed": 1, "digits": None, "perplexity": 30.0,
              "n_neighbors": 10, "min_dist": 0.1, "dims": 3, "source": "all", "indices": list(range(9950, 10250))}
    job = submit(store, settings, "ws-latent-a", "projection", layout, method, mnist)
    Worker(store, settings, lane="view").run(once=True)
    done = store.job(job.id)
    assert done.status == DONE, done.error
    res = ResultStore(store.results_dir).get_key(done.result_key)
    assert list(res.images["idx"]) == list(range(9950, 10250)) and res.images["xy"].shape == (300, 3)
    assert res.images["mse"].shape == res.images["pred"].shape == (300,)
    from aecore.models.evaluate import per_image_errors
    from aecore.analysis.latent import pool_images
    from aecore.training.zoo import load_zoo

    errors = per_image_errors(load_zoo("conv-k16").model, pool_images(mnist, np.arange(9950, 10250)))["mse"]
    assert np.allclose(res.images["mse"], errors, rtol=1e-4, atol=1e-7)  # each point's error, as on Reconstructions
    assert (res.images["pred"] == np.concatenate([mnist.test.y[9950:], mnist.train.y[:250]])).mean() > 0.7
    assert res.images["trained"][:50].sum() == 0 and res.images["trained"][50:].any()  # test images never
    assert (store.results_dir / f"{done.result_key}.placer.pkl").is_file()
    assert ("TorchDR" in res.summary.get("backend", "")) == (method == "tsne-gpu")  # named on the chart's title

    place = {"run": "zoo:conv-k16", "place": mnist.train.x[3].tolist(), "layout": layout}  # training image #3 is point 10003
    job2 = submit(store, settings, "ws-latent-a", "place", place, "place", mnist)
    Worker(store, settings, lane="view").run(once=True)
    placed = ResultStore(store.results_dir).get_key(store.job(job2.id).result_key).images["xy"]
    own = res.images["xy"][list(res.images["idx"]).index(10003)]
    assert np.linalg.norm(placed[0] - own) < 0.05 * np.ptp(res.images["xy"], axis=0).max()


def test_find_points_by_number_or_digit():
    from aecore.analysis.latent import find_points

    shown, labels = np.array([1, 5, 17, 42, 99]), np.array([3, 3, 7, 1, 0])
    assert find_points("17, 42", shown, labels) == ([17, 42], "")
    assert find_points("#17 #1000", shown, labels) == ([17], "not among the points shown: #1000")
    assert find_points("digit 3", shown, labels)[0] == [1, 5] and find_points("3s", shown, labels)[0] == [1, 5]
    assert find_points("digits 0, 1", shown, labels)[0] == [42, 99]
    assert find_points("hello", shown, labels)[0] == [] and "e.g." in find_points("hello", shown, labels)[1]
    assert find_points("", shown, labels) == ([], "")


def test_plane_pixel_puts_each_grid_code_at_the_centre_of_its_cell():
    from aecore.analysis.latent import plane_pixel

    n, xr, yr = 5, (-2.0, 6.0), (1.0, 3.0)
    xs, ys = np.linspace(*xr, n), np.linspace(*yr, n)[::-1]  # latent_grid's sample points, rows from high z2 down
    for row, y in enumerate(ys):
        for col, x in enumerate(xs):
            assert np.allclose(plane_pixel(np.array([x, y]), xr, yr, n), (col * 28 + 14, row * 28 + 14))


def test_a_umap_draws_its_start_at_once_then_reports_and_stops_in_its_neighbour_search(codes):
    """Issue 27 item 8: the CPU UMAP draws its PCA start before umap-learn is even imported, finds the exact
    neighbours itself in chunks (each a report and a look at Stop), hands them to umap-learn, and places new codes
    by their neighbours."""
    from aecore.analysis import projection
    from aecore.analysis.tsne_gpu import umap_start

    _, z = codes
    frames, stages = [], []
    full = project(z, "umap", seed=2, n_neighbors=10, keep=True, on_layout=lambda xy, d, t: frames.append(d) and False,
                   on_stage=lambda what, share: stages.append((what, share)) and False)
    assert frames[0] == 0 and frames[1] > 0 and frames[-1] == full.info["iterations"]
    assert [w for w, _ in stages][:1] == ["finding neighbours"] and stages[-1] == ("building the neighbour graph", 1.0)
    idx, dist = projection.exact_neighbours(z, 10)
    assert (idx[:, 0] == np.arange(len(z))).all() and (dist[:, 0] == 0).all() and (np.diff(dist, axis=1) >= 0).all()
    placed = Placer.from_bytes(full.placer.to_bytes()).place(z[:4])  # as the job keeps it on disk
    assert np.all(np.linalg.norm(placed - full.xy[:4], axis=1) < 0.1 * np.ptp(full.xy, axis=0).max())
    # Stop in the neighbour search: the start is kept, nothing was laid out
    stopped = project(z, "umap", seed=2, n_neighbors=10, on_layout=lambda xy, d, t: False,
                      on_stage=lambda what, share: what == "finding neighbours")
    assert stopped.info["stopped_at"] == 0 and np.allclose(stopped.xy, umap_start(z, 2, 2))


def test_a_tsne_stopped_while_it_finds_neighbours_keeps_its_start_at_once(codes):
    """openTSNE's own neighbour search could not be stopped (Stop waited ~4 s at 10,000 points): the neighbours are
    found here, in chunks, each a look at Stop."""
    _, z = codes
    frames, stages = [], []
    stopped = project(z, "tsne", seed=1, on_layout=lambda xy, d, t: frames.append(d) and False,
                      on_stage=lambda what, share: stages.append(what) or True)
    assert frames == [0] and stages == ["finding neighbours"] and stopped.info["stopped_at"] == 0
    assert stopped.xy.shape == (len(z), 2)
