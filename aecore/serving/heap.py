"""Keep a long-running web process's imported modules out of the garbage collector's full passes (gc.freeze).

Why: once torch, plotly, pandas, sklearn and Streamlit are imported, the web process holds about 500,000 objects that
the cyclic garbage collector tracks, and they live as long as the process. A full (oldest-generation) pass walks all
of them: about 0.2-0.5 s on this 2-core machine, with the interpreter lock held, so every session's page run and the
server's event loop stop meanwhile. Page runs allocate enough for such a pass every few seconds under a class's load
(measured: one 480 ms pass in 60 reruns of Train, a fifth of their time). `gc.freeze()` moves every object tracked
now into a permanent generation that later passes skip; reference counting still frees them as usual, only a cycle
among frozen objects would stay. Freezing each time new modules have been imported (a page's first visit in this
process, a chart kind drawn for the first time) keeps what imports create frozen and leaves what sessions create to
the collector. Before freezing it collects the young generations only: a full pass there would be the very stall this
avoids, in the middle of a class (measured: 8.7% of the server's GIL time in a class's first 12 s, when the first map
imported plotly's WebGL trace modules), and what a full pass would free is a few cycles at most.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time

log = logging.getLogger(__name__)

_lock = threading.Lock()
_frozen_at_modules = 0  # len(sys.modules) at the last freeze (0: never)


def freeze_imported() -> bool:
    """Collect, then freeze every tracked object, if modules were imported since the last call that froze; cheap
    otherwise (one length compared), so a page can call it on every run. True when it froze."""
    global _frozen_at_modules
    if len(sys.modules) <= _frozen_at_modules:
        return False
    with _lock:
        n_modules = len(sys.modules)
        if n_modules <= _frozen_at_modules:
            return False
        t0 = time.perf_counter()
        gc.collect(1)  # young garbage is freed, not frozen (cheap: the old generation is not walked)
        gc.freeze()
        _frozen_at_modules = n_modules
        log.info("froze %d long-lived objects after %d modules were imported (%.0f ms)", gc.get_freeze_count(),
                 n_modules, 1000 * (time.perf_counter() - t0))
        return True
