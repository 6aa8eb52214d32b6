"""Data sets: the bundled MNIST and your own images — upload a zip or an .npz, look at it, train on it."""

from dataclasses import asdict
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from aecore.data import imported as datasets
from aecore.data.dataset import DataError
from aecore.data.image_files import IMAGE_EXTENSIONS
from aecore.data.images import grid, to_png
from aecore.data.import_limits import LIMITS
from aecore.engine.client import StoreError
from app_pages.kit import background, safe, session, url

SHOWN_CLASSES = 12  # classes drawn in the sample grid (the class counts chart shows every class)


def main() -> None:
    st.title("Data sets")
    st.caption("Train and explore on the bundled MNIST or on your own images: a zip with one folder per class (the "
               "ImageFolder layout), or an .npz of arrays. Imported data sets are shared with everyone on this server.")
    rows = datasets.listing()
    the_data_sets(rows)
    look_at_one([r["name"] for r in rows if r["available"]])
    add_your_own()
    what_an_import_accepts()
    torchvision_sets()


def the_data_sets(rows: list[dict]) -> None:
    st.dataframe(
        [{"name": r["name"], "from": r["kind"],
          "images": f"{r['size']}×{r['size']} {'colour' if r['channels'] == 3 else 'grey'}",
          "training": r["n_train"], "test": r["n_test"], "classes": r["n_classes"],
          "here": "yes" if r["available"] else "needs a download"} for r in rows],
        hide_index=True, key="data_table")


@st.cache_data(max_entries=16, show_spinner=False)
def _sample_png(name: str, version: float) -> tuple[bytes, list[str]]:
    """Ten training images of each of the first classes, one row per class, and the row names."""
    ds = session.dataset(name)
    y = np.asarray(ds.train.y)
    rows, names = [], []
    blank = np.full(ds.train.x.shape[1:], 255, np.uint8)
    for c in range(min(ds.n_classes, SHOWN_CLASSES)):
        idx = np.flatnonzero(y == c)[:10]
        if not len(idx):
            continue
        rows += list(ds.train.x[idx]) + [blank] * (10 - len(idx))
        names.append(ds.class_names[c])
    return to_png(grid(np.stack(rows), 10), scale=2 if ds.image_shape[1] <= 32 else 1), names


def _manifest(name: str) -> dict:
    """The manifest of an imported data set ({} for MNIST and the torchvision sets not yet fetched)."""
    try:
        return datasets.info(name) if datasets.exists(name) else {}
    except DataError:
        return {}


def look_at_one(here: list[str]) -> None:
    name = url.control(st.selectbox, "Look at", here, key="data_pick", param="dataset", default="mnist")
    try:
        ds = session.dataset(name)
    except DataError as e:
        st.error(f"This data set cannot be read: {safe.plain(str(e))}")
        return
    m = _manifest(name)
    c, h, w = ds.image_shape
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Images", f"{h}×{w} {'colour' if c == 3 else 'grey'}")
    m2.metric("Training images", f"{len(ds.train):,}")
    m3.metric("Test images", f"{len(ds.test):,}")
    m4.metric("Classes", ds.n_classes)
    png, shown = _sample_png(name, m.get("created", 0.0))
    more = f" (the first {SHOWN_CLASSES} of {ds.n_classes} classes)" if ds.n_classes > SHOWN_CLASSES else ""
    st.image(png, caption="One row per class, top to bottom: " + ", ".join(safe.plain(s) for s in shown) + more,
             output_format="PNG")
    counts = [np.bincount(np.asarray(s.y, np.int64), minlength=ds.n_classes) for s in (ds.train, ds.test)]
    x = [safe.label(n) for n in ds.class_names]  # a name with HTML or markdown in it is shown as it is, never a link
    fig = go.Figure([go.Bar(name=part, x=x, y=cnt) for part, cnt in zip(("training", "test"), counts)])
    fig.update_layout(barmode="stack", height=300, margin=dict(l=10, r=10, t=30, b=10), title="Images per class",
                      xaxis_type="category")
    st.plotly_chart(fig, key="class_counts")
    for note in m.get("notes", []):
        st.caption(f"Import note: {safe.plain(note)}")
    l1, l2 = st.columns([3, 2])
    l1.page_link("app_pages/train.py", label=f"Train a model on {name}", icon=":material/model_training:",
                 query_params={"dataset": name, "ws": session.workspace()})
    owner = (m.get("about") or {}).get("workspace")
    if m and (owner == session.workspace() or session.is_teacher()) and name not in ("cifar10", "flowers102"):
        with l2.popover("Delete this data set", icon=":material/delete:"):
            st.caption("Runs trained on it stay, but cannot be shown again until it is imported again under this name.")
            st.button(f"Delete {name}", type="primary", key="data_delete", on_click=_delete, args=(name,))


def _delete(name: str) -> None:
    """The Delete button's action, before the page runs again: the set goes and MNIST is shown."""
    datasets.remove(name)
    session.dataset.clear()
    st.session_state["data_pick"] = "mnist"


def add_your_own() -> None:
    st.subheader("Add your own images")
    with st.form("add_data", clear_on_submit=False, border=True):
        upload = st.file_uploader("A zip of images (one folder per class, e.g. cats/1.jpg, dogs/2.jpg; or train/ and "
                                  "test/ folders each holding those) or an .npz with arrays x and y (optional class_names)",
                                  type=["zip", "npz"], key="data_file")
        f1, f2, f3, f4 = st.columns(4)
        new_name = f1.text_input("Name", placeholder="my-photos", max_chars=40, key="data_name",
                                 help="1-40 lower-case letters, digits, '.', '_' or '-'")
        size = f2.selectbox("Image size", [28, 32, 64], index=1, key="data_size",
                            help="Each image is centre-cropped to a square and resized to this side (an .npz keeps its own)")
        tone = f3.selectbox("Colour", ["keep colour", "greyscale"], key="data_tone")
        test_share = f4.slider("Test share", 0.1, 0.5, 0.2, 0.05, key="data_test",
                               help="Share of each class held out as test images (unless the zip has train/ and test/)")
        go_import = st.form_submit_button("Import", type="primary")
    if go_import:
        _start_import(upload, new_name.strip(), size, tone, test_share)
    job_id = st.session_state.get("import_job")
    if job_id is None:
        return
    job = session.engine().job(job_id)
    if job.active:
        background.job_progress(job_id)
    elif job.status == "done":
        st.success(f"Imported **{safe.plain(job.params['name'])}**. Pick it above to look at it, or train on it.")
        st.page_link("app_pages/train.py", label=f"Train a model on {job.params['name']}",
                     icon=":material/model_training:",
                     query_params={"dataset": job.params["name"], "ws": session.workspace()})
    else:
        st.error(f"The import did not work: {safe.plain(job.error)}")


def _start_import(upload, name: str, size: int, tone: str, test_share: float) -> None:
    eng = session.engine()
    try:
        if upload is None:
            raise DataError("choose a zip or .npz file first")
        datasets.check_name(name)
        if datasets.exists(name):
            raise DataError(f"a data set named {name!r} exists already; pick another name")
        suffix = ".npz" if upload.name.lower().endswith(".npz") else ".zip"
        token = eng.save_upload(upload.getbuffer(), suffix)
        params = {"action": "add", "upload": token, "name": name, "file": Path(upload.name).name,
                  "size": None if suffix == ".npz" else int(size), "grey": True if tone == "greyscale" else None,
                  "test_fraction": float(test_share)}
        job = eng.submit(session.workspace(), "dataset", params, f"Importing {upload.name} as {name}")
        session.jobs_changed()
        st.session_state["import_job"] = job.id
    except (DataError, StoreError, ValueError, OSError) as e:
        st.error(f"Cannot import this: {safe.plain(str(e))}")


def what_an_import_accepts() -> None:
    limits = LIMITS
    with st.expander("What an import accepts"):
        st.markdown(
            f"- Images: {', '.join(IMAGE_EXTENSIONS)}; any size and mode (grey, RGB, RGBA, palette), "
            f"cropped to the centre square and resized; files that are not images, or are corrupt, are skipped and "
            "named in the import notes.\n"
            f"- At most {limits.max_images:,} images, {limits.max_members:,} files in a zip, {limits.max_classes:,} "
            f"classes, {limits.max_file_bytes / 2**20:.0f} MB per image file and {limits.max_pixels / 1e6:.0f} megapixels "
            f"per image, {limits.max_total_bytes / 2**30:.0f} GB unpacked in all; zip members that inflate more than "
            f"{limits.max_ratio}× are refused as a zip bomb; names with '..', absolute paths and links are refused.\n"
            "- At least 2 classes, and 2 images in a class to hold one out for testing.\n"
            "- On the command line: `python -m aecore data add PATH --name NAME` (and `data list`, `data remove`).")
        st.json(asdict(limits), expanded=False)


def torchvision_sets() -> None:
    with st.expander("Download CIFAR-10 or Flowers102 (needs this server to be online)"):
        which = st.selectbox("Data set", ["cifar10", "flowers102"], key="fetch_which",
                             format_func={"cifar10": "CIFAR-10 (32×32 colour, 10 classes)",
                                          "flowers102": "Oxford Flowers 102 (64×64 colour, 102 classes)"}.get)
        if st.button("Download", key="fetch_go"):
            try:
                job = session.engine().submit(session.workspace(), "dataset", {"action": "fetch", "name": which},
                                              f"Downloading {which}")
                session.jobs_changed()
                st.session_state["import_job"] = job.id
                st.rerun()
            except (StoreError, ValueError) as e:
                st.error(safe.plain(str(e)))


main()
