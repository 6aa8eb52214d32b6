"""The web process's long-lived heap is frozen out of full collections (aecore.serving.heap), and only when new
modules were imported; what sessions make afterwards is still collected."""

import gc
import sys
import weakref

import pytest

from aecore.serving import heap


class _Node:
    """A cycle's member that can be watched through a weak reference."""


def _cycle():
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return a


@pytest.fixture
def fresh_heap(monkeypatch):
    """No freeze before the test, none left after it (the rest of the suite collects as usual)."""
    gc.unfreeze()
    monkeypatch.setattr(heap, "_frozen_at_modules", 0)
    yield
    gc.unfreeze()


def test_objects_alive_at_a_freeze_leave_full_collections_and_new_garbage_is_still_collected(fresh_heap, tmp_path,
                                                                                            monkeypatch):
    kept = _cycle()  # long-lived, like what an import builds
    assert any(o is kept for o in gc.get_objects())
    assert heap.freeze_imported()
    assert gc.get_freeze_count() > 0 and not any(o is kept for o in gc.get_objects())  # skipped by every pass now
    assert not heap.freeze_imported()  # nothing imported since: a page's run pays one length comparison

    garbage = weakref.ref(_cycle())  # a session's garbage cycle, made after the freeze
    gc.collect()
    assert garbage() is None

    (tmp_path / "aelab_heap_probe.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "aelab_heap_probe", raising=False)
    import aelab_heap_probe  # noqa: F401  (a page's first visit imports what it needs)

    before = gc.get_freeze_count()
    late = _cycle()
    assert heap.freeze_imported() and gc.get_freeze_count() > before
    assert not any(o is late for o in gc.get_objects())
