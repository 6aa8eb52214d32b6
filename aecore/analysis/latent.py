"""Walking the latent space: decoded grids over a 2-D code plane, interpolation, placing new codes, the points of a map."""

from __future__ import annotations

import numpy as np

from aecore.models.autoencoders import Autoencoder
from aecore.models.evaluate import decode, encode


def plane_bounds(z: np.ndarray, lo: float = 1.0, hi: float = 99.0) -> tuple[tuple[float, float], tuple[float, float]]:
    """The ranges of the two code axes that hold the bulk of the codes [n, 2] (percentiles lo..hi)."""
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"a latent plane needs 2-D codes, got shape {z.shape}")
    (x0, y0), (x1, y1) = np.percentile(z, lo, axis=0), np.percentile(z, hi, axis=0)
    return (float(x0), float(x1)), (float(y0), float(y1))


def latent_grid(model: Autoencoder, x_range: tuple[float, float], y_range: tuple[float, float], n: int = 15) -> np.ndarray:
    """Decoded images over an n x n grid of the 2-D code plane -> [n*n, 28, 28], rows from top (high z2) down."""
    if model.latent_dim != 2:
        raise ValueError(f"the decoded grid needs a 2-D code; this model's code has {model.latent_dim} numbers")
    if not 2 <= n <= 40:
        raise ValueError(f"grid size must be between 2 and 40, got {n}")
    xs = np.linspace(*x_range, n)
    ys = np.linspace(*y_range, n)[::-1]
    z = np.array([[x, y] for y in ys for x in xs], np.float32)  # [n*n, 2]
    return decode(model, z)


def plane_pixel(z: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float], n: int,
                cell: int = 28) -> tuple[float, float]:
    """Where a 2-D code z lands on the image of latent_grid(…, n) tiled without padding: (column, row) in pixels
    of that image (cell centres are the grid's sample points; rows count down from high z2)."""
    (x0, x1), (y0, y1) = x_range, y_range
    fx = (float(z[0]) - x0) / (x1 - x0) if x1 != x0 else 0.5
    fy = (y1 - float(z[1])) / (y1 - y0) if y1 != y0 else 0.5
    return ((fx * (n - 1) + 0.5) * cell, (fy * (n - 1) + 0.5) * cell)


def interpolate(model: Autoencoder, a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
    """Decode `steps` codes on the straight line from image a's code to image b's -> [steps, 28, 28]."""
    if not 2 <= steps <= 64:
        raise ValueError(f"steps must be between 2 and 64, got {steps}")
    za, zb = encode(model, np.stack([a, b]))
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return decode(model, (1 - t) * za + t * zb)


def place(z_points: np.ndarray, xy_points: np.ndarray, z_query: np.ndarray, k: int = 5) -> np.ndarray:
    """Where new codes [q, d] land on a 2-D map of z_points: the mean map position of their k nearest codes."""
    from sklearn.neighbors import NearestNeighbors

    k = max(1, min(k, len(z_points)))
    nn = NearestNeighbors(n_neighbors=k).fit(z_points)
    _, idx = nn.kneighbors(np.asarray(z_query, np.float32).reshape(len(z_query), -1))
    return xy_points[idx].mean(axis=1)


def selected_indices(points) -> list[int]:
    """The test-image indices in a plotly selection's points, in order, each once.

    Each point's `customdata` holds the index; depending on the Streamlit/plotly version it
    arrives as a list ``[71]``, a dict ``{"0": 71}``, a bare number or a numeric string.
    Points without one (e.g. the ★ of an uploaded digit) are skipped.
    """
    out: list[int] = []
    for p in points or []:
        data = p.get("customdata") if isinstance(p, dict) else getattr(p, "customdata", None)
        if isinstance(data, dict):
            data = data.get("0", data.get(0, next(iter(data.values()), None)))
        elif isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if data is None or isinstance(data, bool):
            continue
        try:
            value = float(data)
        except (TypeError, ValueError):
            continue
        if not np.isfinite(value) or value != int(value) or value < 0:
            continue
        if int(value) not in out:
            out.append(int(value))
    return out


# ---- the points of a map: the test set, or all of MNIST -------------------------------------------
# A point's number: 0..9,999 are the test images #0..#9,999; 10,000.. are the training images #0...
SOURCES = ("test", "all")


def pool_labels(dataset, source: str = "test") -> np.ndarray:
    """The digit of every point a map can show [N]: the test set, or test then training images ("all")."""
    if source not in SOURCES:
        raise ValueError(f"unknown image source {source!r}; choose one of {', '.join(SOURCES)}")
    return dataset.test.y if source == "test" else np.concatenate([dataset.test.y, dataset.train.y])


def pool_images(dataset, idx) -> np.ndarray:
    """The images [n, 28, 28] ([n, H, W, C] on a colour set) of points numbered as in pool_labels (test first, then
    training)."""
    idx = np.asarray(idx, np.int64)
    n_test = len(dataset.test)
    if len(idx) and (idx.min() < 0 or idx.max() >= n_test + len(dataset.train)):
        raise ValueError("a point number is outside the data set")
    out = np.empty((len(idx),) + dataset.test.x.shape[1:], np.uint8)
    is_test = idx < n_test
    out[is_test] = dataset.test.x[idx[is_test]]
    out[~is_test] = dataset.train.x[idx[~is_test] - n_test]
    return out


def point_name(i: int, n_test: int = 10000) -> str:
    """'test image #17' or 'training image #5' for a point number."""
    return f"test image #{i}" if i < n_test else f"training image #{i - n_test}"


def layout_points(params: dict, labels: np.ndarray) -> np.ndarray:
    """The point numbers a projection job lays out [n], sorted: its own list of points (only those of the
    digits shown), or a seeded sample of n of the digits shown."""
    from aecore.analysis.projection import ProjectionError, sample_indices

    digits = params.get("digits") or None
    if params.get("indices"):
        idx = np.unique(np.asarray(params["indices"], np.int64))
        if idx.min() < 0 or idx.max() >= len(labels):
            raise ProjectionError("a chosen point is outside the images shown")
        return idx[np.isin(labels[idx], list(digits))] if digits else idx
    return sample_indices(len(labels), int(params["n"]), int(params["seed"]), labels, digits)


def training_mask(config, dataset) -> np.ndarray:
    """Which training images [60000] a run was trained on (its subset, without its validation images)."""
    from aecore.training.trainer import _split

    mask = np.zeros(len(dataset.train), bool)
    try:
        mask[_split(config.resolved(), dataset)[0]] = True
    except (ValueError, AttributeError):  # a config that no longer resolves: say nothing was known
        pass
    return mask


def probe_predictions(model: Autoencoder, dataset, z: np.ndarray, labels: int = 1000, seed: int = 0) -> np.ndarray:
    """The digit a linear probe reads off each code [n] -> [n]: the Experiments page's probe (a scaled logistic
    regression fitted on the codes of `labels` labelled training images)."""
    from aecore.analysis.classify import linear_probe
    from aecore.data.dataset import subset_indices

    tr = subset_indices(dataset.train.y, limit=labels, seed=seed)
    probe = linear_probe(seed)
    probe.fit(encode(model, dataset.train.x[tr]), dataset.train.y[tr])
    return probe.predict(np.asarray(z, np.float32)).astype(np.uint8)


def find_points(text: str, shown: np.ndarray, labels: np.ndarray) -> tuple[list[int], str]:
    """The points a search names, among those shown [n] (point numbers; labels [n] their digits), and what was not found.

    "17, 42" or "#17 #42": those test images (point numbers); "digit 3" or "3s": every shown point of that digit.
    """
    import re

    text = (text or "").strip().lower()
    if not text:
        return [], ""
    shown = np.asarray(shown)
    m = re.fullmatch(r"(?:digits?\s*)?([0-9])s|digits?\s*([0-9](?:\s*[, ]\s*[0-9])*)", text)
    if m:
        wanted = [int(d) for d in re.findall(r"[0-9]", m.group(1) or m.group(2))]
        found = shown[np.isin(labels, wanted)]
        return [int(i) for i in found], "" if len(found) else f"no {', '.join(map(str, wanted))} among the points shown"
    numbers = re.findall(r"\d+", text)
    if not numbers or re.search(r"[^\d\s,;#]", text):
        return [], "write test image numbers (e.g. 17, 42) or a digit (e.g. digit 3)"
    on_map = set(int(i) for i in shown)
    found = [int(v) for v in dict.fromkeys(numbers) if int(v) in on_map]
    missing = [v for v in dict.fromkeys(numbers) if int(v) not in on_map]
    return found, (f"not among the points shown: #{', #'.join(missing[:5])}" if missing else "")
