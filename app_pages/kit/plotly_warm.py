"""Load the browser's plotly code while the tab is idle, so the first chart a student opens does not wait for it."""

from __future__ import annotations

import functools
import logging
import re

from aecore.serving.frontend import static_dir

log = logging.getLogger(__name__)

# Why: Streamlit's browser code loads plotly (one 4.7 MB file, PlotlyChart.<hash>.js) only when a page first shows a
# chart, and parsing and running it is most of what the tab then waits for: the first visit of Train after a run
# finished (its replay and loss chart) took a tab 3-5 s in a 30-session class on this 2-core machine, the Latent
# space visit before it (no chart yet) under 1 s. This script imports the same file, by the same address Streamlit's
# own code imports it from, once per tab when the browser is next idle; Streamlit's import then finds it loaded.
# It waits for the tab's first page to be done (Streamlit sets `window.prerenderReady` once the first run has ended):
# idle moments come while the tab waits for that run, and running plotly's code then (1.3 s of the tab's main
# thread on this machine) held the first page back, in a class by seconds. Where a Streamlit release has no such
# flag, it waits for idle only, as before.
# The file name is read from Streamlit's installed files (our own constant text, nothing from a user); when a
# Streamlit release names it otherwise nothing is drawn, and charts load as before.
SCRIPT = """
<script>
(() => {
  if (window.__aelabPlotlyWarm) return;
  window.__aelabPlotlyWarm = true;
  const entry = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (!entry) return;
  const load = () => import(new URL("./%s", entry.src).href).catch(() => {});
  const idle = () => window.requestIdleCallback ? requestIdleCallback(load, {timeout: 4000}) : setTimeout(load, 1500);
  const started = Date.now();
  const afterFirstPage = () => {
    if (window.prerenderReady !== false || Date.now() - started > 60000) idle();
    else setTimeout(afterFirstPage, 250);
  };
  afterFirstPage();
})();
</script>
"""

CHUNK = re.compile(r"PlotlyChart\.[A-Za-z0-9_-]+\.js")


@functools.cache
def chunk_name() -> str | None:
    """The file of Streamlit's browser code that holds plotly, or None when there is not exactly one."""
    js = static / "static" / "js" if (static := static_dir()) else None
    names = [p.name for p in js.glob("PlotlyChart.*.js") if CHUNK.fullmatch(p.name)] if js else []
    if len(names) != 1:
        log.warning("plotly's browser code was not found among Streamlit's files (%d matches): charts load on first use",
                    len(names))
        return None
    return names[0]


def script() -> str:
    """The script to put on the page (it loads plotly once per tab; drawn again, it does nothing), or "" when
    Streamlit's plotly file was not found."""
    name = chunk_name()
    return SCRIPT % name if name is not None else ""
