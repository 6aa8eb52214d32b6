"""An experiment's result (tables, images, headline numbers) and the store of results on disk, keyed by content."""


from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Result:
    """An experiment's outcome: tables (lists of row dicts, exportable as CSV) and image arrays."""

    kind: str
    params: dict
    tables: dict[str, list[dict]] = field(default_factory=dict)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)  # the headline numbers (also the CLI's JSON line)
    status: str = "done"  # "done" or "stopped" (partial tables)

    def csv(self, table: str) -> str:
        """A table as CSV text."""
        rows = self.tables[table]
        if not rows:
            return ""
        cols = list(rows[0].keys())
        for r in rows[1:]:
            cols += [c for c in r if c not in cols]
        out = io.StringIO()
        import csv

        w = csv.DictWriter(out, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
        return out.getvalue()

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            meta = {"kind": self.kind, "params": self.params, "tables": self.tables, "summary": self.summary, "status": self.status}
            z.writestr("result.json", json.dumps(meta, default=float))
            arrays = io.BytesIO()
            np.savez_compressed(arrays, **self.images)
            z.writestr("images.npz", arrays.getvalue())
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Result":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            meta = json.loads(z.read("result.json"))
            with np.load(io.BytesIO(z.read("images.npz")), allow_pickle=False) as f:
                images = {k: f[k] for k in f.files}
        return cls(meta["kind"], meta["params"], meta["tables"], images, meta["summary"], meta.get("status", "done"))


class ResultStore:
    """Finished experiment results on disk under their content key, so they are not recomputed. The one key scheme
    is the engine's (aecore.engine.refs.result_key: the kind and its version, the backend, the parameters with each
    run replaced by its weights' hash)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def get_key(self, key: str) -> Result | None:
        """The result stored under a content key, or None (a damaged entry counts as missing)."""
        p = self.root / f"{key}.zip"
        if not p.is_file():
            return None
        try:
            return Result.from_bytes(p.read_bytes())
        except Exception:
            return None  # a damaged cache entry is recomputed

    def put_key(self, key: str, result: Result, partial: bool = False) -> None:
        """Store a result atomically under `key` (a stopped one only with partial=True)."""
        if result.status != "done" and not partial:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        p = self.root / f"{key}.zip"
        tmp = p.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(result.to_bytes())
        os.replace(tmp, p)
