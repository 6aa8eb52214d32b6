"""What the address holds: each page's settings as query parameters, read back safely (bad values give defaults)."""

from __future__ import annotations

import streamlit as st

from app_pages.kit.safe import plain


def query_index(name: str, options: list, default) -> int:
    """The index of the query parameter's value among a widget's options (of `default` when absent or unknown)."""
    v = st.query_params.get(name)
    return list(options).index(v if v in options else default)


def query_default(name: str, default, cast=str):
    """A query parameter's value cast to the widget's type, or the default when absent or invalid."""
    v = st.query_params.get(name)
    if v is None:
        return default
    try:
        return cast(v)
    except (TypeError, ValueError):
        return default


def query_choice(name: str, options: list, default):
    """A query parameter that must be one of `options` (else the default)."""
    v = st.query_params.get(name)
    return v if v in options else default


def query_number(name: str, default, lo, hi, cast=int):
    """A numeric query parameter, clamped to [lo, hi]; NaN, infinity and junk give the default."""
    import math

    v = st.query_params.get(name)
    if v is None:
        return default
    try:
        x = float(v)
    except ValueError:
        x = math.nan
    out = cast(min(max(cast(x), lo), hi)) if math.isfinite(x) else default
    if out != x:  # say so once: the page then writes the value it uses back into the address
        st.toast(f"The address asked for {name}={plain(v[:20])}; {name} takes {lo:g} to {hi:g}, so {out:g} is used.")
    return out
