"""Runs on disk: a directory (or a zip of it) with config, history and weights, saved atomically, loaded safely."""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from aecore.errors import AELabError
from aecore.models.autoencoders import Autoencoder, ModelError, count_parameters
from aecore.models.registry import build_model
from aecore.training.config import ConfigError, TrainConfig

FORMAT = "aelab-run"
VERSION = 1
FILES = ("meta.json", "config.json", "history.json", "weights.pt")
MAX_RUN_BYTES = 64 * 1024 * 1024  # an uploaded run bundle may not exceed this (the largest model is ~13 MB)
# What each file of a run may hold, counted in bytes actually read (inflated), never as a zip header claims.
FILE_LIMITS = {"meta.json": 64 * 1024, "config.json": 64 * 1024, "history.json": 2 * 1024 * 1024,
               "weights.pt": MAX_RUN_BYTES}
MAX_ZIP_ENTRIES = 16  # a run zip has 4 files; a few extras (e.g. a README a teacher added) are tolerated
MAX_HISTORY_ROWS = 6000  # 4 pretraining layers + training, 1000 epochs each, is 5000 rows
# An uploaded run is run once on plain images (black and mid-grey) before it is accepted: finite weights can still
# be crafted (e.g. scaled x1e30) so that every page using the run fails later. A trained model's codes are within
# tens and its outputs within 0..1 (sigmoid) or -1..1 (tanh); these bounds are far outside that.
SANE_CODE = 1e6  # |code| of a plain image
SANE_OUTPUT = 1e3  # |output| of a plain image
STATUSES = ("done", "stopped", "paused", "diverged", "checkpoint")
_PHASE_RE = re.compile(r"train|pretrain layer [0-9]{1,2}/[0-9]{1,2}")
_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


class RunError(AELabError):
    """A run file or directory is missing, corrupt, foreign, or does not match its config."""


@dataclass
class Run:
    """A trained model with the config that made it and its per-epoch history."""

    config: TrainConfig
    model: Autoencoder
    history: list[dict] = field(default_factory=list)  # EpochStats rows
    status: str = "done"  # "done", "stopped", "paused" (training can go on) or "diverged"
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


def is_run_dir(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder holding an AE Lab run and nothing else (so replacing it loses nothing)."""
    d = Path(path)
    try:
        entries = [p.name for p in d.iterdir()]
        with open(d / "meta.json", "rb") as f:
            meta = json.loads(f.read(FILE_LIMITS["meta.json"]))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT and set(entries) <= set(FILES)


def check_out_dir(directory: str | os.PathLike) -> Path:
    """The absolute run folder to write, checked before any work is done (RunError says why not).

    Refused: an existing file, a folder holding anything but one AE Lab run (its files would be
    lost), and a place this process cannot write to. An empty folder or an earlier run is fine.
    """
    raw = str(directory)
    if not raw.strip():
        raise RunError("the output folder name is empty")
    dest = Path(os.path.abspath(os.path.expanduser(raw)))
    if dest.parent == dest:
        raise RunError(f"{raw!r} is the file system root: name a folder for the run, e.g. runs/my-run")
    try:
        cwd = Path.cwd()
    except OSError:
        cwd = None
    if cwd is not None and (dest == cwd or dest in cwd.parents):
        raise RunError(f"{raw} is the folder you are in (or holds it): a run folder is replaced as a whole when "
                       "it is saved; name a new sub-folder instead, e.g. ./my-run")
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise RunError(f"{raw} exists and is not a folder: refusing to replace it; pick a new folder name")
    if dest.is_dir():
        try:
            empty = not any(dest.iterdir())
        except OSError as e:
            raise RunError(f"the folder {raw} cannot be read ({e.strerror})") from None
        if not empty and not is_run_dir(dest):
            raise RunError(f"{raw} is a folder that holds other files, not an AE Lab run: refusing to overwrite "
                           "them; pick an empty or new folder")
    parent = dest.parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if not parent.is_dir():
        raise RunError(f"{parent} is not a folder: the run cannot be written under it")
    if not os.access(parent, os.W_OK | os.X_OK) or (dest.is_dir() and not os.access(dest, os.W_OK | os.X_OK)):
        raise RunError(f"cannot write to {dest if dest.is_dir() else parent}: permission denied")
    try:  # access() can be wrong (read-only mounts, root): really try
        probe = Path(tempfile.mkdtemp(prefix=".aelab-write-test-", dir=parent))
        probe.rmdir()
    except OSError as e:
        raise RunError(f"cannot write to {parent}: {e.strerror}") from None
    return dest


def save_run(run: Run, directory: str | os.PathLike) -> Path:
    """Write the run to `directory` atomically (a crash leaves the old run or the new one, never half).

    Only an empty folder or an earlier run is ever replaced (see check_out_dir).
    """
    dest = check_out_dir(directory)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for name, data in _run_files(run).items():
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if dest.is_dir() and not any(dest.iterdir()):
            os.replace(tmp, dest)  # rename(2) replaces an empty folder atomically (e.g. one claimed by RunStore.save)
        elif dest.exists():
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


def _decode_json(name: str, data: bytes, max_containers: int | None = None):
    if max_containers is not None and data.count(b"{") + data.count(b"[") > max_containers:
        # checked before parsing: a few MB of "{}" would otherwise become millions of dicts
        raise RunError(f"the run cannot be opened: {name} holds more records than a run can have")
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise RunError(f"the run cannot be opened: {name} is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunError(f"the run cannot be opened: {name} is not valid JSON ({e.__class__.__name__})") from None


def _bad(what: str, value=None, expected: str = "") -> RunError:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return RunError(f"the run cannot be opened: {what} must be {expected}, got {shown}")


def _number(where: str, v, lo: float, hi: float, integer: bool = False, optional: bool = False):
    if v is None and optional:
        return None
    ok = not isinstance(v, bool) and isinstance(v, (int, float)) and (not integer or float(v).is_integer())
    if not ok or not math.isfinite(v) or not lo <= v <= hi:
        kind = "a whole number" if integer else "a number"
        raise _bad(where, v, f"{kind} between {lo:g} and {hi:g}")
    return int(v) if integer else float(v)


def _text(where: str, v, max_len: int) -> str:
    if not isinstance(v, str) or len(v) > max_len:
        raise _bad(where, v, f"text of at most {max_len} characters")
    return v


def _check_meta(meta) -> dict:
    """meta.json with every field of the right type and in bounds."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RunError("not an AE Lab run: meta.json does not name the aelab-run format")
    if meta.get("version") != VERSION:
        raise RunError(f"run format version {str(meta.get('version'))[:20]!r} is not supported (this is version {VERSION})")
    status = meta.get("status", "done")
    if status not in STATUSES:
        raise _bad("meta.json status", status, "one of " + ", ".join(STATUSES))
    return {
        "name": _text("meta.json name", meta.get("name", ""), 200),
        "status": status,
        "message": _text("meta.json message", meta.get("message", ""), 2000),
        "seconds": _number("meta.json seconds", meta.get("seconds", 0.0), 0, 1e9, optional=True) or 0.0,
        "device": _text("meta.json device", meta.get("device", "cpu"), 40),
        "created": _number("meta.json created", meta.get("created", 0.0), 0, 1e11, optional=True) or 0.0,
    }


_ROW_KEYS = {"epoch", "train_loss", "val_loss", "seconds", "images_per_s", "phase"}


def _check_history(history) -> list[dict]:
    """history.json: a bounded list of epoch rows, each with numbers where numbers belong."""
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise RunError("the run cannot be opened: history.json must be a list of epoch records")
    if len(history) > MAX_HISTORY_ROWS:
        raise RunError(f"the run cannot be opened: history.json has {len(history)} rows (at most {MAX_HISTORY_ROWS})")
    rows = []
    for i, r in enumerate(history, 1):
        unknown = sorted(str(k)[:20] for k in set(r) - _ROW_KEYS)
        if unknown:
            raise RunError(f"the run cannot be opened: history.json row {i} has unknown fields {', '.join(unknown[:3])}")
        phase = r.get("phase", "train")
        if not isinstance(phase, str) or not _PHASE_RE.fullmatch(phase):
            raise _bad(f"history.json row {i} phase", phase, "'train' or 'pretrain layer i/n'")
        rows.append({
            "epoch": _number(f"history.json row {i} epoch", r.get("epoch"), 1, 10**6, integer=True),
            "train_loss": _number(f"history.json row {i} train_loss", r.get("train_loss"), 0, 1e12),
            "val_loss": _number(f"history.json row {i} val_loss", r.get("val_loss"), 0, 1e12, optional=True),
            "seconds": _number(f"history.json row {i} seconds", r.get("seconds", 0.0), 0, 1e9),
            "images_per_s": _number(f"history.json row {i} images_per_s", r.get("images_per_s", 0.0), 0, 1e12),
            "phase": phase,
        })
    return rows


def run_from_files(files: dict[str, bytes]) -> Run:
    """Build a Run from its four files, checking each against its schema (no unpickling: weights_only).

    Anything crafted or damaged raises RunError ("the run cannot be opened: ..."), never another error.
    """
    missing = [n for n in FILES if n not in files]
    if missing:
        raise RunError(f"not an AE Lab run: {', '.join(missing)} missing")
    for name, data in files.items():
        limit = FILE_LIMITS.get(name)
        if limit is not None and len(data) > limit:
            raise RunError(f"the run cannot be opened: {name} is larger than a run's {name} can be "
                           f"({len(data):,} bytes; at most {limit:,})")
    meta = _check_meta(_decode_json("meta.json", files["meta.json"]))
    try:
        config = TrainConfig.from_dict(_decode_json("config.json", files["config.json"])).resolved()
    except ConfigError as e:
        raise RunError(f"the run cannot be opened: config.json is invalid: {e}") from None
    history = _check_history(_decode_json("history.json", files["history.json"], max_containers=MAX_HISTORY_ROWS + 1))
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
        from aecore.data.catalog import dataset_image_shape
        from aecore.data.dataset import DataError

        model = build_model(config.model, config.latent, config.hidden_act, config.out_act, config.upsample,
                            width=config.width, image_shape=dataset_image_shape(config.dataset))
    except DataError as e:
        raise RunError(f"the run was trained on the data set {config.dataset!r}, which cannot be found here ({e})") from None
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
    return Run(config=config, model=model.eval(), history=history, **meta)


def check_behaviour(run: Run) -> None:
    """Run the model once (CPU, no gradients) on a black and a mid-grey image of its data set's shape: RunError
    unless its codes and outputs are finite and within SANE_CODE and SANE_OUTPUT. In eval mode every image is
    computed alone, so one of each says what four of each would. It costs what the model costs on two images:
    milliseconds for every model at 28x28 and 64x64 (a conv AE on 256x256 colour images: ~30 ms; only the Flowers
    tutorial's large-kernel AEs at 256x256 take seconds, as each use of them does)."""
    from aecore.data.catalog import dataset_image_shape

    model = run.model.eval()
    try:
        shape = tuple(dataset_image_shape(run.config.dataset))
        x = torch.stack([torch.zeros(shape), torch.full(shape, 0.5)])
        with torch.no_grad():
            z = model.encode(x)
            out = model.decode(z)
    except Exception as e:  # a model that cannot run on an image of its own data set's shape
        raise RunError(f"the run cannot be opened: its model fails on a test image ({type(e).__name__})") from None
    if not bool(torch.isfinite(z).all()) or float(z.abs().max()) >= SANE_CODE:
        raise RunError("the run cannot be opened: its weights turn plain images (black, mid-grey) into codes that are "
                       f"not finite or far too large (beyond {SANE_CODE:g}): they are damaged or crafted")
    if not bool(torch.isfinite(out).all()) or float(out.abs().max()) > SANE_OUTPUT:
        raise RunError("the run cannot be opened: its weights turn plain images (black, mid-grey) into outputs that "
                       f"are not finite or far outside the image range (beyond {SANE_OUTPUT:g}): they are damaged or "
                       "crafted")


def load_run(directory: str | os.PathLike) -> Run:
    """Load a run directory written by save_run; RunError if it is missing or not valid."""
    d = Path(directory)
    if not d.is_dir():
        raise RunError(f"no run directory at {d}")
    files = {}
    for name in FILES:
        p = d / name
        if p.is_file():
            with open(p, "rb") as f:
                files[name] = f.read(FILE_LIMITS[name] + 1)  # never more than a run file may hold
    return run_from_files(files)


def run_dataset(directory: str | os.PathLike) -> str:
    """The data set a saved run was trained on, read from its config file alone (no weights are loaded);
    "mnist" when the file says nothing or cannot be read (runs from before data sets existed)."""
    try:
        with open(Path(directory) / "config.json", "rb") as f:
            name = json.loads(f.read(FILE_LIMITS["config.json"])).get("dataset", "mnist")
    except (OSError, ValueError, AttributeError):
        return "mnist"
    return name if isinstance(name, str) else "mnist"


def run_to_bytes(run: Run) -> bytes:
    """The run as one zip file (for download)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in _run_files(run).items():
            z.writestr(name, data)
    return buf.getvalue()


def _read_capped(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """An entry's bytes, inflated in small steps and never more than `limit` (headers are not trusted)."""
    out = bytearray()
    with z.open(info) as f:
        while True:
            chunk = f.read(256 * 1024)
            if not chunk:
                return bytes(out)
            out += chunk
            if len(out) > limit:
                raise RunError(f"{info.filename} unpacks to more than {limit:,} bytes: this is not an AE Lab run "
                               "(a run's files are much smaller)")


def run_from_bytes(data: bytes, max_bytes: int = MAX_RUN_BYTES) -> Run:
    """Load a run from an uploaded zip; RunError with a clear message for anything else.

    Zip bombs are bounded: at most MAX_ZIP_ENTRIES entries, no name twice, and each file is
    inflated step by step up to its limit in FILE_LIMITS (whatever its header claims). The model is run once on
    plain images (check_behaviour): weights that give non-finite or absurd codes or outputs are refused.
    """
    if not data:
        raise RunError("the file is empty")
    if len(data) > max_bytes:
        raise RunError(f"the file is larger than {max_bytes // 2**20} MB: not an AE Lab run")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise RunError("not an AE Lab run file (expected the .zip that 'Download run' gives)") from None
    with z:
        infos = z.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise RunError(f"the zip holds {len(infos):,} entries; an AE Lab run has {len(FILES)}: not an AE Lab run")
        names = [i.filename for i in infos]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise RunError(f"the zip lists {twice[0][:60]!r} more than once: it is damaged or crafted, not an AE Lab run")
        files = {}
        total = 0
        for info in infos:
            if info.filename not in FILES:
                continue  # ignore extras; never extract to disk
            limit = min(FILE_LIMITS[info.filename], max_bytes - total)
            try:
                files[info.filename] = _read_capped(z, info, limit)
            except RunError:
                raise
            except Exception as e:  # BadZipFile (bad CRC), zlib/lzma/bz2 errors, encrypted entries, ...
                raise RunError(f"the run file is damaged ({type(e).__name__}): {info.filename} cannot be read") from None
            total += len(files[info.filename])
    run = run_from_files(files)
    check_behaviour(run)  # finite weights can still make every page fail (e.g. scaled x1e30)
    return run


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
        if unique:  # claim the name with mkdir, which only one of several savers at once can win
            self.root.mkdir(parents=True, exist_ok=True)
            base, n = safe[:60], 2
            while True:
                try:
                    self.path(safe).mkdir()
                    break
                except FileExistsError:
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
