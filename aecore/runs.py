"""Runs on disk: a directory (or a zip of it) with config, history and weights, saved atomically, loaded safely."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import ConfigError, TrainConfig
from .models import Autoencoder, ModelError, build_model, count_parameters

FORMAT = "aelab-run"
VERSION = 1
FILES = ("meta.json", "config.json", "history.json", "weights.pt")
MAX_RUN_BYTES = 64 * 1024 * 1024  # an uploaded run bundle may not exceed this (the largest model is ~13 MB)
_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


class RunError(ValueError):
    """A run file or directory is missing, corrupt, foreign, or does not match its config."""


@dataclass
class Run:
    """A trained model with the config that made it and its per-epoch history."""

    config: TrainConfig
    model: Autoencoder
    history: list[dict] = field(default_factory=list)  # EpochStats rows
    status: str = "done"  # "done", "stopped" or "diverged"
    message: str = ""
    seconds: float = 0.0
    device: str = "cpu"
    name: str = ""
    created: float = field(default_factory=time.time)

    @property
    def train_history(self) -> list[dict]:
        return [r for r in self.history if r.get("phase", "train") == "train"]

    @property
    def final_train_loss(self) -> float | None:
        h = self.train_history
        return h[-1]["train_loss"] if h else None

    @property
    def final_val_loss(self) -> float | None:
        h = self.train_history
        return h[-1]["val_loss"] if h else None

    def label(self) -> str:
        return self.name or self.config.describe()

    def meta(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "seconds": self.seconds,
            "device": self.device,
            "created": self.created,
            "parameters": count_parameters(self.model),
        }


def sanitize_name(name: str, fallback: str = "run") -> str:
    """A safe file name from user text: letters, digits, '.', '_', '-' only; no leading dots; <= 64 chars."""
    s = _NAME_RE.sub("-", str(name or "")).strip("-.")[:64].strip("-.")
    return s or fallback


def _state_dict_bytes(model: torch.nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def _run_files(run: Run) -> dict[str, bytes]:
    return {
        "meta.json": json.dumps(run.meta(), indent=1).encode(),
        "config.json": json.dumps(run.config.to_dict(), indent=1, sort_keys=True).encode(),
        "history.json": json.dumps(run.history).encode(),
        "weights.pt": _state_dict_bytes(run.model),
    }


def save_run(run: Run, directory: str | os.PathLike) -> Path:
    """Write the run to `directory` atomically (a crash leaves the old run or the new one, never half)."""
    dest = Path(directory)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for name, data in _run_files(run).items():
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{time.monotonic_ns()}")
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _decode_json(name: str, data: bytes):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunError(f"{name} is not valid JSON ({e.__class__.__name__}): the run is corrupt") from None


def run_from_files(files: dict[str, bytes]) -> Run:
    """Build a Run from its four files, checking each (no unpickling: weights load with weights_only)."""
    missing = [n for n in FILES if n not in files]
    if missing:
        raise RunError(f"not an AE Lab run: {', '.join(missing)} missing")
    meta = _decode_json("meta.json", files["meta.json"])
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RunError("not an AE Lab run: meta.json does not name the aelab-run format")
    if meta.get("version") != VERSION:
        raise RunError(f"run format version {meta.get('version')!r} is not supported (this is version {VERSION})")
    try:
        config = TrainConfig.from_dict(_decode_json("config.json", files["config.json"])).resolved()
    except ConfigError as e:
        raise RunError(f"the run's config is invalid: {e}") from None
    history = _decode_json("history.json", files["history.json"])
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise RunError("history.json must be a list of epoch records: the run is corrupt")
    try:
        state = torch.load(io.BytesIO(files["weights.pt"]), map_location="cpu", weights_only=True)
    except Exception as e:
        raise RunError(
            f"weights.pt cannot be loaded safely ({type(e).__name__}): it is corrupt, truncated, "
            "or holds more than plain tensors"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise RunError("weights.pt does not hold a dictionary of tensors")
    try:
        model = build_model(config.model, config.latent, config.hidden_act, config.out_act, config.upsample)
    except ModelError as e:
        raise RunError(f"the run's model cannot be built: {e}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        raise RunError(
            f"the weights do not match the config ({config.model}, latent {config.latent}): "
            "they belong to another model"
        ) from None
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise RunError("the weights contain NaN or infinite values")
    return Run(
        config=config,
        model=model.eval(),
        history=history,
        status=str(meta.get("status", "done")),
        message=str(meta.get("message", "")),
        seconds=float(meta.get("seconds", 0.0) or 0.0),
        device=str(meta.get("device", "cpu")),
        name=str(meta.get("name", "")),
        created=float(meta.get("created", 0.0) or 0.0),
    )


def load_run(directory: str | os.PathLike) -> Run:
    """Load a run directory written by save_run; RunError if it is missing or not valid."""
    d = Path(directory)
    if not d.is_dir():
        raise RunError(f"no run directory at {d}")
    files = {}
    for name in FILES:
        p = d / name
        if p.is_file():
            if p.stat().st_size > MAX_RUN_BYTES:
                raise RunError(f"{name} is larger than {MAX_RUN_BYTES // 2**20} MB: not an AE Lab run")
            files[name] = p.read_bytes()
    return run_from_files(files)


def run_to_bytes(run: Run) -> bytes:
    """The run as one zip file (for download)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in _run_files(run).items():
            z.writestr(name, data)
    return buf.getvalue()


def run_from_bytes(data: bytes, max_bytes: int = MAX_RUN_BYTES) -> Run:
    """Load a run from an uploaded zip; RunError with a clear message for anything else."""
    if not data:
        raise RunError("the file is empty")
    if len(data) > max_bytes:
        raise RunError(f"the file is larger than {max_bytes // 2**20} MB: not an AE Lab run")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise RunError("not an AE Lab run file (expected the .zip that 'Download run' gives)") from None
    with z:
        files = {}
        total = 0
        for info in z.infolist():
            if info.filename not in FILES:
                continue  # ignore extras; never extract to disk
            total += info.file_size
            if total > max_bytes:
                raise RunError("the run file unpacks to more than its size limit")
            try:
                files[info.filename] = z.read(info.filename)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
                raise RunError(f"the run file is damaged ({type(e).__name__}): {info.filename} cannot be read") from None
    return run_from_files(files)


class RunStore:
    """Saved runs under one root folder, one sub-folder per sanitised name."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        p = (self.root / sanitize_name(name)).resolve()
        if self.root.resolve() not in p.parents:
            raise RunError(f"invalid run name {name!r}")
        return p

    def save(self, run: Run, name: str | None = None, unique: bool = False) -> str:
        """Save under a sanitised name (with unique=True never over another run: name-2, name-3, ...)."""
        safe = sanitize_name(name or run.name or run.config.describe())
        if unique:
            base, n = safe[:60], 2
            while self.path(safe).exists():
                safe, n = f"{base}-{n}", n + 1
        run.name = run.name or safe
        save_run(run, self.path(safe))
        return safe

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "meta.json").is_file())

    def load(self, name: str) -> Run:
        return load_run(self.path(name))

    def delete(self, name: str) -> None:
        shutil.rmtree(self.path(name), ignore_errors=True)
