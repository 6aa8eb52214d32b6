"""Reconstructions: originals on top, reconstructions below; per-image and per-digit (per-class) error; two runs side by
side; on MNIST or any imported data set, in colour where it is."""

import numpy as np
import streamlit as st

from aecore.analysis.projection import sample_indices
from aecore.data.images import labelled_png, rows_grid, to_png
from aecore.models.evaluate import per_digit, psnr
from app_pages.kit import background, charts, picker, safe, session, url


def main() -> None:
    st.title("Reconstructions")
    key, run = picker.run_picker(data=None)  # runs of every data set
    if run is None:
        return
    ds = session.dataset(run.config.dataset)
    what = ds.class_word
    modes = {"random": "random test images", "digit": f"one chosen {what}", "worst": "worst reconstructed",
             "best": "best reconstructed"}
    mode, idx, errors = chosen_images(key, ds, modes)
    if len(idx):
        png = the_grid(key, run, ds, modes[mode], mode, idx, errors)
    else:  # an imported set's test images may not include every class
        st.info(f"The test set has no image of this {what}: pick another one.")
    series = error_per_class(run, ds, errors)
    if len(idx):
        second_run(key, run, ds, idx, png, errors, series)
    st.plotly_chart(charts.per_digit_figure(series, f"Error per {what}", ds.class_names, what),
                    key="per_digit")


def chosen_images(key, ds, modes: dict):
    """Which test images to show (the controls), their indices and every test image's error."""
    what = ds.class_word
    c1, c2, c3, c4 = st.columns(4)
    mode = url.control(c1.radio, "Show", list(modes), key="mode", param="mode", default="random", format_func=modes.get)
    most = min(16, len(ds.test))  # a small imported set may have fewer test images than that
    if most > 4:
        n = url.control(c2.slider, "How many", key="n_recon", default=min(10, most), lo=4, hi=most)
    else:  # too few to choose from
        n = most
        c2.caption(f"How many: all {most} test images")
    digit = url.control(c3.selectbox, what.capitalize(), list(range(ds.n_classes)), disabled=mode != "digit",
                        key="recon_digit" if session.bundled_mnist(ds) else f"recon_digit_{ds.name}", default=0,
                        param="digit" if mode == "digit" else None, format_func=lambda d: ds.class_names[d])
    if mode != "digit":
        url.drop("digit")
    seed = url.control(c4.number_input, "Sample seed", key="recon_seed", default=0, lo=0, hi=10**6,
                       disabled=mode in ("worst", "best"))
    errors = background.test_errors(key)
    if mode == "random":
        idx = sample_indices(len(ds.test), n, int(seed))
    elif mode == "digit":
        idx = sample_indices(len(ds.test), n, int(seed), ds.test.y, [digit])
        if 0 < len(idx) < n:
            st.caption(f"The test set has only {len(idx)} image{'s' if len(idx) != 1 else ''} of "
                       f"{safe.label(ds.class_names[digit])}: all of them are shown.")
    else:
        order = np.argsort(errors)
        idx = order[::-1][:n] if mode == "worst" else order[:n]
    return mode, idx, errors


def the_grid(key, run, ds, title: str, mode: str, idx, errors) -> bytes:
    """The originals over their reconstructions, each column named; returns the grid as a PNG."""
    what = ds.class_word
    columns, whole = grid_pngs(key, run, ds, idx)
    st.subheader(f"{safe.plain(run.label())}: {title}")
    st.caption(f"In each column: the original on top, its reconstruction below, then the test index, the {what} and the "
               "MSE per pixel.")
    for col, i, png in zip(st.columns(len(idx)), idx, columns):
        col.image(png, width="stretch", caption=f"#{i} · {safe.plain(ds.class_names[ds.test.y[i]])} · {errors[i]:.4f}",
                  output_format="PNG")
    labelled = lambda: labelled_png(  # noqa: E731  (drawn only when the button is clicked)
        rows_grid([ds.test.x[idx], picker.reconstructions(key, run, tuple(int(i) for i in idx))]), scale=3, title=f"{run.label()}: {title}", left=["originals", "reconstructions"],
        bottom=f"test index / {what} / MSE: " + ", ".join(f"#{i}/{ds.class_names[ds.test.y[i]]}/{errors[i]:.4f}" for i in idx))
    st.download_button("Download this grid (PNG)", labelled, file_name=f"reconstructions-{mode}.png", mime="image/png")
    return whole


def grid_pngs(key, run, ds, idx) -> tuple[list, bytes]:
    """The PNGs of test images `idx` of data set `ds` over the run's reconstructions of them: one a column, and the
    whole grid."""
    idx = tuple(int(i) for i in idx)
    return _grid_pngs(picker.run_version(key, run), ds.name, idx, key, run, ds)


@st.cache_resource(max_entries=64, show_spinner=False)  # the same for everyone who looks: made once, shared
def _grid_pngs(version: str, data: str, idx: tuple, _key: str, _run, _ds) -> tuple[list, bytes]:
    """Made once per run version, data set and images: a page shows them again on every rerun, and encoding them was
    a sixth of its time."""
    originals, recon = _ds.test.x[list(idx)], picker.reconstructions(_key, _run, idx)
    columns = [to_png(rows_grid([o[None], r[None]], padding=1), scale=3) for o, r in zip(originals, recon)]
    return columns, to_png(rows_grid([originals, recon]), scale=3)


def error_per_class(run, ds, errors) -> dict:
    """The test errors as numbers a tutorial reports; the series of the per-class chart (this run's)."""
    st.subheader(f"Error per {ds.class_word}")
    m1, m2, m3 = st.columns(3)
    mse = float(errors.mean())
    m1.metric("Test MSE per pixel", f"{mse:.5f}")
    pixels = int(np.prod(ds.image_shape))  # numbers per image: 784 for MNIST, 3,072 for 32x32 colour
    m2.metric("Squared error per image", f"{mse * pixels:.2f}",
              help="Hinton & Salakhutdinov 2006 report 3.00 (deep AE, k=30) vs 13.87 (PCA, k=30) on MNIST"
              if session.bundled_mnist(ds) else f"summed over the {pixels:,} numbers of an image")
    m3.metric("PSNR", f"{psnr(mse):.2f} dB")
    return {safe.label(run.label()): per_digit(errors, ds.test.y, ds.n_classes)}


def second_run(key, run, ds, idx, png: bytes, errors, series: dict) -> None:
    st.subheader("Compare with another run")
    other_key, other = picker.run_picker("Second run", key="run_b", sidebar=False, avoid=key, data=(ds.name,))
    if other is None:
        return
    if other_key == key:
        st.caption("Pick a different run to compare.")
        return
    other_err = background.test_errors(other_key)
    series[safe.label(other.label())] = per_digit(other_err, ds.test.y, ds.n_classes)
    left, right = st.columns(2)
    left.image(png, caption=f"{safe.plain(run.label())} · test MSE {float(errors.mean()):.5f}", output_format="PNG")
    _, other_png = grid_pngs(other_key, other, ds, idx)
    right.image(other_png,
                caption=f"{safe.plain(other.label())} · test MSE {float(other_err.mean()):.5f}", output_format="PNG")


main()
