"""Lessons: a tutorial as an ordered list of steps, each a page in a given state with a text and a question, from TOML files."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from aecore.errors import AELabError

MAX_LESSON_BYTES = 64 * 1024  # a lesson file is a page of text, not data
MAX_STEPS = 30
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")  # a lesson's name is its file name: it is part of the address


class LessonError(AELabError):
    """A lesson file cannot be used; the message says which file, which step and what to change."""


@dataclass(frozen=True)
class PageSpec:
    """What a lesson step may set on a page: the address parameters it reads and the controls it can hide."""

    params: frozenset[str]
    controls: frozenset[str]


@dataclass(frozen=True)
class Step:
    title: str
    page: str  # the page the step opens ("latent", "train", ...)
    text: str  # Markdown: what the class looks at and why
    question: str = ""  # a question for the class (optional)
    answer: str = ""  # what the teacher expects, shown on request (optional)
    params: dict[str, str] = field(default_factory=dict)  # the page's settings, as in its address (?run=…&method=…)
    hide: tuple[str, ...] = ()  # controls this step hides, so the class sees what matters


@dataclass(frozen=True)
class Lesson:
    name: str  # the file name without .toml, used in the address (?lesson=…)
    title: str
    summary: str
    steps: tuple[Step, ...]
    minutes: int = 0  # about how long it takes in class (0: not said)
    source: str = ""  # the tutorial it follows
    order: int = 100  # place in the list of lessons (then by name)


LESSON_KEYS = {"title", "summary", "minutes", "source", "order", "step"}
STEP_KEYS = {"title", "page", "text", "question", "answer", "params", "hide"}
GLOBAL_CONTROLS = frozenset({"sidebar", "run"})  # every page: the navigation sidebar, the model run picker


def _text(d: dict, key: str, where: str, required: bool = True, limit: int = 4000) -> str:
    v = d.get(key, "")
    if not isinstance(v, str):
        raise LessonError(f"{where}: '{key}' must be text in quotes, not {type(v).__name__}")
    if required and not v.strip():
        raise LessonError(f"{where}: '{key}' is missing or empty")
    if len(v) > limit:
        raise LessonError(f"{where}: '{key}' is {len(v)} characters long; keep it under {limit}")
    return v.strip()


def _unknown(d: dict, allowed: set, where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise LessonError(f"{where}: unknown key(s) {', '.join(map(repr, extra))}; allowed: {', '.join(sorted(allowed))}")


def _step(raw, i: int, lesson_where: str, pages: Mapping[str, PageSpec]) -> Step:
    if not isinstance(raw, dict):
        raise LessonError(f"{lesson_where}, step {i}: write each step as a [[step]] table")
    where = f"{lesson_where}, step {i}"
    _unknown(raw, STEP_KEYS, where)
    title = _text(raw, "title", where, limit=120)
    where = f"{lesson_where}, step {i} ({title!r})"
    page = _text(raw, "page", where, limit=40)
    if page not in pages:
        raise LessonError(f"{where}: unknown page {page!r}; pages are: {', '.join(sorted(pages))}")
    spec = pages[page]
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise LessonError(f"{where}: 'params' must be a table, e.g. params = {{ run = \"zoo:conv-k2\" }}")
    bad = sorted(set(params) - spec.params)
    if bad:
        raise LessonError(f"{where}: the {page} page does not read {', '.join(map(repr, bad))}; "
                          f"it reads: {', '.join(sorted(spec.params)) or 'nothing'}")
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise LessonError(f"{where}: params.{k} must be text or a number, not {type(v).__name__}")
    hide = raw.get("hide", [])
    if not isinstance(hide, list) or not all(isinstance(h, str) for h in hide):
        raise LessonError(f"{where}: 'hide' must be a list of control names, e.g. hide = [\"sidebar\", \"run\"]")
    allowed = spec.controls | GLOBAL_CONTROLS
    bad = sorted(set(hide) - allowed)
    if bad:
        raise LessonError(f"{where}: the {page} page has no control {', '.join(map(repr, bad))}; "
                          f"it can hide: {', '.join(sorted(allowed))}")
    return Step(title=title, page=page, text=_text(raw, "text", where), question=_text(raw, "question", where, False),
                answer=_text(raw, "answer", where, False), params={k: str(v) for k, v in params.items()},
                hide=tuple(dict.fromkeys(hide)))


def parse_lesson(text: str, name: str, pages: Mapping[str, PageSpec]) -> Lesson:
    """A lesson from TOML text, checked against the pages it opens (LessonError says what is wrong and where)."""
    where = f"lesson {name!r}"
    if not NAME.match(name):
        raise LessonError(f"{where}: name a lesson file with lower-case letters, digits and dashes (e.g. latent-size.toml)")
    if len(text.encode()) > MAX_LESSON_BYTES:
        raise LessonError(f"{where}: the file is over {MAX_LESSON_BYTES // 1024} KB; a lesson is a few steps of text")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LessonError(f"{where}: not valid TOML ({e})") from None
    _unknown(raw, LESSON_KEYS, where)
    title = _text(raw, "title", where, limit=120)
    steps = raw.get("step")
    if not isinstance(steps, list) or not steps:
        raise LessonError(f"{where}: no steps; add at least one [[step]] with a title, a page and a text")
    if len(steps) > MAX_STEPS:
        raise LessonError(f"{where}: {len(steps)} steps; a lesson has at most {MAX_STEPS} (split it in two)")
    minutes = raw.get("minutes", 0)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 600:
        raise LessonError(f"{where}: 'minutes' must be a whole number of minutes (0-600)")
    order = raw.get("order", 100)
    if isinstance(order, bool) or not isinstance(order, int):
        raise LessonError(f"{where}: 'order' must be a whole number (the lesson's place in the list)")
    return Lesson(name=name, title=title, summary=_text(raw, "summary", where, limit=300),
                  steps=tuple(_step(s, i, where, pages) for i, s in enumerate(steps, 1)), minutes=minutes,
                  source=_text(raw, "source", where, required=False, limit=300), order=order)


def load_lesson(path: str | Path, pages: Mapping[str, PageSpec]) -> Lesson:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_LESSON_BYTES:
            raise LessonError(f"lesson {path.stem!r}: the file is over {MAX_LESSON_BYTES // 1024} KB")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LessonError(f"lesson {path.stem!r}: the file is not UTF-8 text") from None
    except OSError as e:
        raise LessonError(f"lesson {path.stem!r}: cannot read it ({e.strerror or e})") from None
    return parse_lesson(text, path.stem, pages)


def load_lessons(folder: str | Path, pages: Mapping[str, PageSpec]) -> tuple[list[Lesson], list[str]]:
    """Every *.toml lesson in `folder`, in their order (then by file name), and a message for each file that cannot be used
    (one bad file does not hide the others)."""
    lessons, problems = [], []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            lessons.append(load_lesson(path, pages))
        except LessonError as e:
            problems.append(str(e))
    return sorted(lessons, key=lambda lesson: (lesson.order, lesson.name)), problems
