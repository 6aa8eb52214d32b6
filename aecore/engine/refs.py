"""Run references ("zoo:NAME", "run:ID") and the content key every result is stored under."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from aecore.engine.store import Store, StoreError
from aecore.errors import AELabError

RESULTS_VERSION = 2  # bumped when results are computed differently for every kind (older ones are not reused)


class RefError(AELabError):
    """A run reference that is not of the form "zoo:NAME" or "run:ID"."""


def parse_ref(ref: str) -> tuple[str, str]:
    """("zoo", NAME) or ("run", ID) from a run reference "zoo:NAME" / "run:ID" (RefError otherwise)."""
    kind, _, name = str(ref).partition(":")
    if kind not in ("zoo", "run") or not name:
        raise RefError(f"unknown run reference {str(ref)[:60]!r} (expected zoo:NAME or run:ID)")
    return kind, name


def ref_dir(store: Store, ref: str) -> Path:
    """The folder holding a referenced run's files (the zoo's, or this store's kept run)."""
    from aecore.training.zoo import zoo_dir

    kind, name = parse_ref(ref)
    if kind == "zoo":
        return zoo_dir() / name
    entry = store.run(name)
    return store.run_dir(entry.workspace, entry.id)


def load_ref(store: Store, ref: str):
    """A run named by a reference: "zoo:NAME" (the pretrained zoo) or "run:ID" (a kept run)."""
    from aecore.training.runs import load_run
    from aecore.training.zoo import load_zoo

    kind, name = parse_ref(ref)
    if kind == "zoo":
        return load_zoo(name)
    entry = store.run(name)
    run = load_run(store.run_dir(entry.workspace, entry.id))
    run.name = entry.name
    return run


def ref_dataset(store: Store, ref: str) -> str:
    """The data set a referenced run was trained on (from its config file; its weights are not loaded)."""
    from aecore.training.runs import run_dataset

    return run_dataset(ref_dir(store, ref))


def ref_digest(store: Store, ref: str) -> str:
    """The content hash of a referenced run's weights (results are keyed by it, never by a job id)."""
    kind, name = parse_ref(ref)
    if kind == "run":
        return store.run(name).digest  # kept runs have theirs in the store
    return file_digest(ref_dir(store, ref) / "weights.pt")


def file_digest(path: Path) -> str:
    """sha256 of a file (remembered per path and modification time: pages ask for it on every run)."""
    try:
        st = Path(path).stat()
    except OSError as e:
        raise StoreError(f"the run's weights cannot be read: {e.strerror}") from None
    return _digest(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise StoreError(f"the run's weights cannot be read: {e.strerror}") from None


@lru_cache(maxsize=1)
def backend() -> str:
    """What the workers compute on here ("cuda" or "cpu"): a GPU and a CPU may lay a map out differently."""
    from aecore.training.device import resolve_device

    return resolve_device("auto").type


def result_key(store: Store, kind, params) -> str:
    """The content key of a job's result: its kind and that kind's version, the results' version, the backend, its
    (parsed) parameters, with every run it reads replaced by the hash of that run's weights."""
    keyed = params.to_dict()
    for name, value in list(keyed.items()):
        if isinstance(value, str) and value.startswith(("zoo:", "run:")):
            keyed[name] = ref_digest(store, value)
        elif isinstance(value, dict) and value and all(isinstance(v, str) and v.startswith(("zoo:", "run:"))
                                                        for v in value.values()):
            keyed[name] = {label: ref_digest(store, v) for label, v in value.items()}
    blob = json.dumps({"kind": kind.name, "version": (RESULTS_VERSION, kind.version), "backend": backend(),
                       "params": keyed}, sort_keys=True, default=str)
    return f"{kind.name}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}"
