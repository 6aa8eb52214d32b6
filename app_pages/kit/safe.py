"""Text from users and URLs shown safely: escaped for markdown, one line."""

from __future__ import annotations

import html
import re

_MD_SPECIAL = "\\`*_{}[]()<>#|~$:!"  # what makes markdown, links, images, HTML, math or a :material/icon: anywhere
_LEADING = re.compile(r"^(\d+)([.)])|^([-+>=])")  # what makes a list, a quote or a heading only at the start
# What Streamlit's markdown turns into a link on its own (GFM autolink literals: scheme://, www., name@host); an
# invisible word joiner inside each keeps the text as it reads but never a link.
_AUTOLINK = re.compile(r"(?i)(?<=\w)(?=\\?:\\?/)|(?<=w)(?=ww\.)|(?=@)")
_JOINER = "\u2060"


def plain(text: str) -> str:
    """User text made safe for st.markdown, captions and messages: one line, every character that would make
    markdown escaped (a name can never become a link, an image, a heading or a list)."""
    text = " ".join(str(text).split())
    out = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)
    out = _LEADING.sub(lambda m: (m.group(1) + "\\" + m.group(2)) if m.group(1) else "\\" + m.group(3), out)
    return _AUTOLINK.sub(_JOINER, out)


def label(text: str) -> str:
    """User text made safe for a chart (plotly renders <a>, <b>, <br> and entities in its labels): HTML-escaped, one
    line. Never markdown-escaped: a chart shows backslashes as they are."""
    return html.escape(" ".join(str(text).split()), quote=False)
