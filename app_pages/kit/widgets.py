"""Widgets and outputs: values kept across pages, a zoo recipe copied in, image grids, tables with their CSV."""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.data.images import rows_grid, to_png
from aecore.training.runs import RunError


# ---- drawing -----------------------------------------------------------------------------------
def image_rows(rows: list[tuple[str, np.ndarray]], captions: list[str] | None = None, scale: int = 3):
    """Rows of equally many digits (originals on top, reconstructions below), labelled on the left."""
    labels = "  /  ".join(label for label, _ in rows)
    png = to_png(rows_grid([r for _, r in rows]), scale=scale)
    st.image(png, caption=labels)
    if captions:
        st.caption(" · ".join(captions))
    return png


def show_error(e: Exception, what: str = "That did not work"):
    st.error(f"{what}: {e}")


def result_table(res, table: str, caption: str = ""):
    """A result table with its CSV download."""
    st.dataframe(res.tables[table], hide_index=True)
    st.download_button(f"Download {table} (CSV)", res.csv(table), file_name=f"{res.kind}-{table}.csv",
                       mime="text/csv", key=f"csv_{res.kind}_{table}")
    if caption:
        st.caption(caption)


# ---- widgets whose values survive leaving the page -----------------------------------------------
def kept(widget, label: str, *args, key: str, default, **kw):
    """Draw `widget` so its value survives page switches (Streamlit forgets widgets that are not drawn).

    The value is mirrored in a plain session-state key and put back when the widget reappears.
    """
    shadow = f"_kept_{key}"
    options = args[0] if args and isinstance(args[0], (list, tuple)) else None

    def valid(v) -> bool:
        return options is None or (all(x in options for x in v) if isinstance(v, list) else v in options)

    value = st.session_state.get(shadow, default)
    value = value if valid(value) else default
    if key not in st.session_state or not valid(st.session_state[key]):  # e.g. a model the new data set cannot take
        st.session_state[key] = value
    out = widget(label, *args, key=key, **kw)
    st.session_state[shadow] = out
    return out


def copy_recipe() -> None:
    """The Train page's "copy the recipe of a zoo model": every setting of that model, into the page's widgets."""
    from aecore.training.zoo import load_zoo

    name = st.session_state.get("recipe")
    if not name:
        return
    try:
        c = load_zoo(name).config
    except (RunError, KeyError) as e:
        st.session_state["flash_recipe"] = f"Cannot read the recipe of {name}: {e}"
        return
    noise = c.noise_spec
    kind = noise.kind if noise.active else "none"
    values = {"dataset": c.dataset, "model": c.model, f"latent_{c.model}": c.latent, "epochs": c.epochs, "batch": c.batch_size,
              f"lr_{c.model}": c.lr, "optimizer": c.optimizer, "loss": c.loss, "out_act": c.out_act,
              f"hidden_{c.model}": c.hidden_act, f"upsample_{c.model}": c.upsample, "noise_kind": kind,
              f"noise_level_{kind}": noise.level if noise.active else None, "seed": c.seed,
              "digits": list(c.digits) if c.digits else list(range(10)), "limit": c.limit or 0,
              f"pretrain_{c.model}": c.pretrain_epochs, "schedule": c.schedule, "weight_decay": c.weight_decay,
              "val_share": c.val_fraction, "width_conv": c.width or 32, "precision": c.precision, "device": "auto"}
    for key, value in values.items():
        if value is not None:
            st.session_state[key] = st.session_state[f"_kept_{key}"] = value
    st.session_state["flash_recipe"] = f"Filled in the recipe of {name}: {c.describe()}."


def available_devices() -> list[str]:
    import torch

    return ["auto", "cpu", "cuda"] if torch.cuda.is_available() else ["auto", "cpu"]


def table_csv(rows: list[dict], name: str, key: str) -> None:
    """A CSV download of a table given as a list of row dicts."""
    import pandas as pd

    st.download_button(f"Download {name} (CSV)", pd.DataFrame(rows).to_csv(index=False), file_name=f"{name}.csv",
                       mime="text/csv", key=key)


def image_true_size(png: bytes, caption: str | None = None) -> None:
    """Show a PNG at its own pixel width: a long caption would otherwise stretch a small grid (one digit ~560 px)."""
    import io

    from PIL import Image

    width = Image.open(io.BytesIO(png)).width
    st.image(png, caption=caption, width=width if width <= 800 else "stretch")  # wide grids: fit the page
