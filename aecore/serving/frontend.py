"""Where the installed Streamlit keeps its browser files (its page, scripts and styles), found without importing it."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def static_dir() -> Path | None:
    """Streamlit's `static` folder (index.html, and the scripts under static/js), or None when Streamlit is not
    installed or keeps its files elsewhere."""
    spec = importlib.util.find_spec("streamlit")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        static = Path(folder) / "static"
        if (static / "index.html").is_file():
            return static
    return None
