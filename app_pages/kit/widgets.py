"""Outputs every page shows the same way: image grids at their true size, tables with their CSV, the devices offered."""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.data.images import rows_grid, to_png


# ---- drawing -----------------------------------------------------------------------------------
def image_rows(rows: list[tuple[str, np.ndarray]], captions: list[str] | None = None, scale: int = 3):
    """Rows of equally many digits (originals on top, reconstructions below), labelled on the left."""
    labels = "  /  ".join(label for label, _ in rows)
    png = to_png(rows_grid([r for _, r in rows]), scale=scale)
    st.image(png, caption=labels, output_format="PNG")
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
    st.image(png, caption=caption, width=width if width <= 800 else "stretch",  # wide grids: fit the page
             output_format="PNG")
