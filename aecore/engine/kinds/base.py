"""What every job kind is: typed parameters checked at submit, a lane, a cost, whether it stops and pauses, `run`."""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from aecore.errors import AELabError

if TYPE_CHECKING:
    from aecore.engine.context import Context


class KindError(AELabError):
    """A job's kind or parameters are not valid (the message names the parameter and what it takes)."""


@dataclass
class Outcome:
    """How a job ended, as the worker writes it to the store."""

    status: str  # done / stopped / paused / failed / diverged
    error: str = ""
    run_id: str | None = None
    result_key: str | None = None
    run: Any = None  # a trained Run to keep with the job, registered in the same transaction as the ending
    run_name: str = ""
    share: bool = False
    extras: dict | None = None  # files kept beside the run ({"watch.npz": path})
    cleanup: Any = None  # a folder to delete once the ending is recorded (a finished job's resume state)
    recorded: bool = False  # the ending is in the store already (a Ray task records its own)


# ---- typed parameters ----------------------------------------------------------------------------
def param(default=MISSING, *, type: str, lo: float | None = None, hi: float | None = None, choices=None,
          max_items: int = 64, optional: bool = False, doc: str = ""):
    """A parameter field: `type` is one of int, float, bool, str, strs, ints, floats, ref, refs, config, configs, image,
    object; `lo`/`hi` bound numbers (and each number of a list), `choices` the values (each name of a list)."""
    meta = {"type": type, "lo": lo, "hi": hi, "choices": tuple(choices) if choices else None, "max_items": max_items,
            "optional": optional, "doc": doc}
    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def _number(kind: str, name: str, v, meta, integer: bool):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and int(v) != v):
        raise KindError(f"{kind}: {name} must be {'a whole number' if integer else 'a number'}, got {str(v)[:40]!r}")
    if not math.isfinite(v):
        raise KindError(f"{kind}: {name} must be a finite number")
    lo, hi = meta["lo"], meta["hi"]
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise KindError(f"{kind}: {name} must be between {lo:g} and {hi:g}, got {v:g}")
    return int(v) if integer else float(v)


def _coerce(kind: str, name: str, v, meta):
    t = meta["type"]
    if v is None and meta["optional"]:
        return None
    if t in ("int", "float"):
        out = _number(kind, name, v, meta, t == "int")
    elif t == "bool":
        if not isinstance(v, bool):
            raise KindError(f"{kind}: {name} must be true or false")
        out = v
    elif t in ("str", "ref"):
        if not isinstance(v, str) or len(v) > 200:
            raise KindError(f"{kind}: {name} must be text of at most 200 characters")
        if t == "ref":
            from aecore.engine.refs import parse_ref

            parse_ref(v)
        out = v
    elif t == "strs":
        if not isinstance(v, (list, tuple)) or not 0 < len(v) <= meta["max_items"] or not all(isinstance(x, str) for x in v):
            raise KindError(f"{kind}: {name} must be a list of 1 to {meta['max_items']} names")
        if meta["choices"] is not None and any(x not in meta["choices"] for x in v):
            raise KindError(f"{kind}: {name} must be some of {', '.join(meta['choices'])}")
        return tuple(v)
    elif t in ("ints", "floats"):
        if not isinstance(v, (list, tuple)) or not 0 < len(v) <= meta["max_items"]:
            raise KindError(f"{kind}: {name} must be a list of 1 to {meta['max_items']} numbers")
        out = tuple(_number(kind, name, x, meta, t == "ints") for x in v)
    elif t in ("config", "configs", "refs"):
        out = _coerce_nested(kind, name, v, meta)
    elif t == "image":
        if not isinstance(v, (list, tuple)) or len(v) != 28 or any(not isinstance(r, (list, tuple)) or len(r) != 28 for r in v):
            raise KindError(f"{kind}: {name} must be a 28x28 image")
        out = tuple(tuple(_number(kind, name, x, {"lo": 0, "hi": 255}, True) for x in r) for r in v)
    else:  # a free-form JSON object (a layout's own parameters)
        if not isinstance(v, dict):
            raise KindError(f"{kind}: {name} must be an object")
        out = dict(v)
    if meta["choices"] is not None and out not in meta["choices"]:
        raise KindError(f"{kind}: {name} must be one of {', '.join(map(str, meta['choices']))}, got {str(out)[:40]!r}")
    return out


def _coerce_nested(kind: str, name: str, v, meta):
    from aecore.training.config import ConfigError, TrainConfig

    if meta["type"] == "config":
        try:
            return TrainConfig.from_dict(v.to_dict() if isinstance(v, TrainConfig) else v).resolved()
        except ConfigError as e:
            raise KindError(f"{kind}: {name}: {e}") from None
    if not isinstance(v, dict) or not 0 < len(v) <= meta["max_items"]:
        raise KindError(f"{kind}: {name} must name 1 to {meta['max_items']} entries")
    out = {}
    for label, item in v.items():
        if not isinstance(label, str) or not label or len(label) > 80:
            raise KindError(f"{kind}: {name} labels must be text of 1-80 characters")
        out[label] = _coerce(kind, f"{name}[{label}]", item, dict(meta, type="ref" if meta["type"] == "refs" else "config",
                                                                    choices=None))
    return out


def _plain(v):
    """A parameter value as JSON (tuples as lists, configs as dicts)."""
    from aecore.training.config import TrainConfig

    if isinstance(v, TrainConfig):
        return v.to_dict()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


@dataclass(frozen=True)
class Params:
    """Base of every kind's parameters: a frozen dataclass whose fields are declared with `param`."""

    kind: ClassVar[str] = ""

    @classmethod
    def parse(cls, raw) -> "Params":
        """Parameters from a JSON object (a page, the command line, the store), every field checked; KindError."""
        if isinstance(raw, cls):
            return raw
        if not isinstance(raw, dict):
            raise KindError(f"{cls.kind}: parameters must be an object")
        names = {f.name for f in fields(cls)}
        unknown = sorted(str(k)[:30] for k in set(raw) - names)
        if unknown:
            raise KindError(f"{cls.kind}: unknown parameter(s) {', '.join(unknown[:5])}; it takes {', '.join(sorted(names))}")
        values = {}
        for f in fields(cls):
            if f.name in raw:
                values[f.name] = _coerce(cls.kind, f.name, raw[f.name], f.metadata)
            elif f.default is MISSING:
                raise KindError(f"{cls.kind}: missing parameter {f.name!r}")
        p = cls(**values)
        p.check()
        return p

    def check(self) -> None:
        """Checks across fields (KindError); the data set's own checks come with the kind's `prepare`."""

    def to_dict(self) -> dict:
        """JSON for the store and for result keys (every field, defaults included, so equal asks key equally)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    def run_refs(self) -> list[str]:
        """Run references these parameters read (a job may read only runs its workspace can open)."""
        out = []
        for f in fields(self):
            v = getattr(self, f.name)
            if f.metadata.get("type") == "ref" and v:
                out.append(v)
            elif f.metadata.get("type") == "refs" and v:
                out.extend(v.values())
        return out


# ---- the kind itself -----------------------------------------------------------------------------
class JobKind:
    """One kind of job. Subclasses set the class attributes and implement `cost` and `run`."""

    name: ClassVar[str]  # the kind as the store names it ("train", "sweep", …)
    title: ClassVar[str]  # what a page calls it ("Training", "Latent size sweep", …)
    Params: ClassVar[type[Params]]
    lane: ClassVar[str] = "train"  # "view": short jobs a page waits for, served first by the view worker
    trains: ClassVar[bool] = False  # it trains models: the per-job image budget applies
    pausable: ClassVar[bool] = False  # it can pause and go on exactly where it paused (training)
    keyed: ClassVar[bool] = True  # its result is stored under a content key, shared by everyone who asks
    keeps_runs: ClassVar[bool] = False  # it keeps a run in the workspace (the workspace's disk quota applies)
    version: ClassVar[int] = 1  # bumped when what it computes changes: older results are not reused

    def parse(self, raw) -> Params:
        return self.Params.parse(raw)

    def dataset_name(self, p: Params, store) -> str:
        """The data set the job reads: its own, else the one its (first) run was trained on, else MNIST."""
        from aecore.engine.refs import ref_dataset

        own = getattr(p, "dataset", None) or getattr(getattr(p, "config", None), "dataset", None)
        if own:
            return own
        refs = p.run_refs()
        return ref_dataset(store, refs[0]) if refs else "mnist"

    def prepare(self, p: Params, dataset) -> Params:
        """Checks against the data set at submit (ConfigError/KindError) and the parameters to queue."""
        return p

    def cost(self, p: Params, dataset) -> float:
        """Images the job processes: the compute budget (kinds that train) and the queue's time estimate."""
        return 20_000.0  # one pass over the test set and a little more

    def seconds(self, p: Params, dataset) -> float:
        """Reference seconds of work (aecore.training.speed): times the server's speed factor, how long it takes.
        Kinds that train count their models' seconds per image; the others their cost at a fixed rate."""
        from aecore.training.speed import other_seconds

        return other_seconds(self.cost(p, dataset))

    def run(self, p: Params, ctx: "Context", dataset) -> Outcome:
        raise NotImplementedError


def train_cost(config, dataset) -> float:
    """Images a training run processes (aecore.training.speed.images_processed): the budget's unit."""
    from aecore.training.speed import images_processed

    return images_processed(config, dataset)


def train_seconds(configs, dataset) -> float:
    """Reference seconds of training these configs one after the other (aecore.training.speed)."""
    from aecore.training.speed import training_seconds

    return sum(training_seconds(c, dataset) for c in configs)
