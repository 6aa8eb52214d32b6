"""Text from users and URLs shown safely: escaped for markdown, one line."""

from __future__ import annotations

_MD_SPECIAL = "\\`*_{}[]()#+-.!<>|~$:"


def plain(text: str) -> str:
    """User text made safe for st.markdown / captions: every markdown character escaped, one line."""
    text = " ".join(str(text).split())
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)
