"""Lessons and classroom views on the page: the lesson box with back/next, controls hidden by the address, presenter mode."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from aecore.classroom.lessons import GLOBAL_CONTROLS, Lesson, PageSpec, load_lessons
from aecore.settings import current
from app_pages.kit import safe, session, url

LESSONS_DIR = current().lessons_dir
PAGE_FILES = {"home": "app_pages/home.py", "train": "app_pages/train.py", "reconstructions": "app_pages/reconstructions.py",
              "latent": "app_pages/latent.py", "denoising": "app_pages/denoising.py", "experiments": "app_pages/experiments.py"}
URL_PATHS = {"home": "", "train": "train", "reconstructions": "reconstructions", "latent": "latent",
             "denoising": "denoising", "experiments": "experiments"}

# The address parameters each page reads (a lesson step sets them) ...
PARAMS = {
    "home": (),
    "train": ("model", "latent", "epochs", "batch", "lr", "limit", "dataset", "noise", "level", "digits", "pretrain"),
    "reconstructions": ("run", "mode", "digit"),
    "latent": ("run", "method", "n", "pick", "view", "images", "seed", "colour", "size"),
    "denoising": ("run", "noise", "level"),
    "experiments": ("run", "tab", "ab_preset", "sweep_model", "sweep_range", "data", "epochs", "limit", "batch",
                    "dataset"),
}
# ... and the controls each page can hide (?hide=name,name): a name stands for widget keys; "x_*" is every key
# starting with "x_" (e.g. the latent size of each model); "key selector" is an element inside that widget.
# "sidebar" and "run" work on every page.
CONTROLS: dict[str, dict[str, tuple[str, ...]]] = {
    "home": {"image": ("home_image",), "samples": ("home_samples",), "split": ("home_split",), "presets": ("home_presets",)},
    "train": {"dataset": ("dataset",), "model": ("model",), "latent": ("latent_*",), "epochs": ("epochs",), "batch": ("batch_*",), "lr": ("lr_*",),
              "optimizer": ("optimizer",), "loss": ("loss",), "output": ("out_act",), "hidden": ("hidden_*",),
              "upsample": ("upsample_*",), "noise": ("noise_kind", "noise_level_*"), "seed": ("seed",),
              "digits": ("digits", "classes_*"), "limit": ("limit_*",), "pretrain": ("pretrain_*",), "device": ("device",),
              "name": ("run_name",), "stepwise": ("stepwise",), "runs": ("train_runs",), "upload": ("train_upload",)},
    "reconstructions": {"mode": ("mode",), "count": ("n_recon",), "digit": ("recon_digit",), "seed": ("recon_seed",),
                        "second": ("run_b",)},
    "latent": {"projection": ("method",), "view": ("view",), "images": ("source",), "points": ("n_*",),
               "seed": ("proj_seed",), "digits": ("digit_filter",), "perplexity": ("perplexity",),
               "umap": ("n_neighbors", "min_dist"), "colour": ("colour_by", "size_by"), "find": ("find",),
               "pick": ("pick",), "isolate": ("isolate", "unisolate"), "own": ("own_source", "digit_upload")},
    "denoising": {"corruption": ("noise",), "level": ("level_*",), "seed": ("noise_seed",)},
    "experiments": {"tabs": ("tab [data-baseweb='tab-list']",)},  # the tab bar, not the tab's content
}
SPECS = {p: PageSpec(frozenset(PARAMS[p]), frozenset(CONTROLS[p])) for p in PAGE_FILES}
LESSON_PARAMS = ("lesson", "step")  # where a lesson step lives in the address
VIEW_PARAMS = ("hide", "present")  # the classroom view, carried from step to step


@st.cache_data(max_entries=4, show_spinner=False)
def _load(stamp: tuple) -> tuple[list[Lesson], list[str]]:
    return load_lessons(LESSONS_DIR, SPECS)


def lessons() -> tuple[list[Lesson], list[str]]:
    """The lessons in lessons/ and a message per file that cannot be used (read again when a file changes)."""
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(LESSONS_DIR.glob("*.toml")))
    return _load(stamp)


def current() -> tuple[Lesson, int] | None:
    """The lesson and step (0-based) the address names, or None."""
    name = st.query_params.get("lesson")
    if not name:
        return None
    found = {lesson.name: lesson for lesson in lessons()[0]}
    lesson = found.get(name)
    if lesson is None:
        st.warning(f"There is no lesson {safe.plain(name[:60])!r} (see the Lessons page).")
        return None
    try:
        i = int(st.query_params.get("step", "1")) - 1
    except ValueError:
        i = 0
    return lesson, min(max(i, 0), len(lesson.steps) - 1)


def step_params(lesson: Lesson, i: int) -> dict[str, str]:
    """The address of step i: its page's settings, the lesson and step, the workspace and the classroom view."""
    q = dict(lesson.steps[i].params) | {"lesson": lesson.name, "step": str(i + 1), "ws": session.workspace()}
    return q | {k: st.query_params[k] for k in VIEW_PARAMS if k in st.query_params}


def step_url(lesson: Lesson, i: int) -> str:
    """A relative link to step i (without the workspace: a link for the class)."""
    q = dict(lesson.steps[i].params) | {"lesson": lesson.name, "step": str(i + 1)}
    return f"/{URL_PATHS[lesson.steps[i].page]}?{urlencode(q)}"


def enter(page_name: str) -> tuple[Lesson, int] | None:
    """Called by app.py before the page runs: on arriving at a lesson step, its settings replace the ones this
    session had (else a setting changed earlier would win over the step's), and the step's own page is opened."""
    at = current()
    if at is None:
        st.session_state.pop("_lesson_at", None)
        return None
    lesson, i = at
    step = lesson.steps[i]
    if step.page != page_name:
        st.switch_page(PAGE_FILES[step.page], query_params=step_params(lesson, i))
    if st.session_state.get("_lesson_at") != (lesson.name, i):
        st.session_state["_lesson_at"] = (lesson.name, i)
        for k, v in step.params.items():
            if st.query_params.get(k) != v:
                st.query_params[k] = v
        url.forget(*step.params)  # the step's settings arrive as new: each control takes them
    return lesson, i


def banner(lesson: Lesson, i: int) -> None:
    """The lesson box at the top of the page: where we are, what to look at, the question, back and next."""
    step, n = lesson.steps[i], len(lesson.steps)
    with st.container(border=True, key="lesson_box"):
        st.progress((i + 1) / n, text=f"Lesson · {lesson.title} · step {i + 1} of {n}")
        st.markdown(f"### {step.title}")
        st.markdown(step.text)
        if step.question:
            st.info(f"**Question for the class:** {step.question}", icon=":material/help:")
        if step.answer:
            with st.expander("What to look for (for the teacher)"):
                st.markdown(step.answer)
        c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="center")
        if i > 0:
            c1.page_link(PAGE_FILES[lesson.steps[i - 1].page], label="Back", icon=":material/arrow_back:",
                         query_params=step_params(lesson, i - 1))
        if i + 1 < n:
            c2.page_link(PAGE_FILES[lesson.steps[i + 1].page], label="Next", icon=":material/arrow_forward:",
                         query_params=step_params(lesson, i + 1))
        else:
            c2.page_link("app_pages/lessons.py", label="Finish", icon=":material/done_all:", query_params={"ws": session.workspace()})
        c3.caption(f"This step's address: `{step_url(lesson, i)}`")


def hidden_keys(page_name: str, names: list[str]) -> tuple[list[str], list[str]]:
    """The widget keys behind control names on a page, and the names it does not know."""
    known = CONTROLS.get(page_name, {})
    keys, unknown = [], []
    for name in names:
        if name in known:
            keys.extend(known[name])
        elif name == "run":
            keys.extend(("run",))
        elif name != "sidebar":
            unknown.append(name)
    return keys, unknown


WIDGETS = ("stSlider", "stSelectbox", "stRadio", "stNumberInput", "stMultiSelect", "stCheckbox", "stButton",
           "stDownloadButton", "stFileUploader", "stTextInput", "stToggle", "stSelectSlider", "stPageLink", "stTabs")


HIDE_NAMES = frozenset(name for controls in CONTROLS.values() for name in controls) | GLOBAL_CONTROLS  # any page's
PRESENT_ON = ("1", "true", "yes")


def address_view() -> tuple[list[str], bool]:
    """The classroom view the address asks for, cleaned in the address itself: ?hide= keeps only control names AE
    Lab has (on any page: a lesson carries them from page to page) and ?present= only a value that turns presenter
    mode on. Anything else is dropped there, so it is never shown and never carried into a link (the lesson's back,
    next and start links copy these two). Returns (the names kept, whether something was dropped)."""
    raw = st.query_params.get("hide")
    asked = [h.strip() for h in (raw or "").split(",") if h.strip()]
    names = list(dict.fromkeys(h for h in asked if h in HIDE_NAMES))
    if raw is not None and ",".join(names) != raw:
        if names:
            st.query_params["hide"] = ",".join(names)
        else:
            del st.query_params["hide"]
    present = st.query_params.get("present")
    if present is not None and present not in PRESENT_ON:
        del st.query_params["present"]
    return names, len(names) < len(asked)


def presenting() -> bool:
    """Whether the address asks for presenter mode (?present=1): large type, just the pictures."""
    return st.query_params.get("present") in PRESENT_ON


def sidebar_shown(lesson_step: tuple[Lesson, int] | None) -> bool:
    """Whether this run draws the sidebar: not where the address or the lesson step hides it, nor in presenter mode.
    A hidden sidebar is never drawn (the page's run picker then sits on the page itself: session.side())."""
    names, _ = address_view()
    if lesson_step is not None:
        names += list(lesson_step[0].steps[lesson_step[1]].hide)
    shown = "sidebar" not in names and not presenting()
    session.hide_sidebar(not shown)
    return shown


def view(page_name: str, lesson_step: tuple[Lesson, int] | None) -> None:
    """Hide the controls the address (?hide=…) and the lesson step name; presenter mode (?present=1): large type,
    no sidebar and no controls, just the pictures (and the lesson's back and next). Nothing of the address is
    shown: only this module's own control names."""
    names, dropped = address_view()
    if lesson_step is not None:
        names += list(lesson_step[0].steps[lesson_step[1]].hide)
    keys, elsewhere = hidden_keys(page_name, names)  # `elsewhere`: names of other pages' controls (known names)
    if elsewhere or dropped:
        asked = (f"{', '.join(elsewhere[:5])}, which this page does not have" if elsewhere
                 else "controls AE Lab does not have (ignored)")
        st.caption(safe.plain(f"The address hides {asked}; this page can hide: "
                              f"{', '.join(sorted(set(CONTROLS.get(page_name, {})) | GLOBAL_CONTROLS))}."))
    rules = []
    for key in keys:
        key, _, inner = key.partition(" ")
        sel = (f'[class*="st-key-{key[:-1]}"]' if key.endswith("*") else f".st-key-{key}") + (f" {inner}" if inner else "")
        rules.append(f"{sel} {{display: none !important}}")
    if presenting():
        widgets = ", ".join(f'[data-testid="{w}"]' for w in WIDGETS)
        keep = ".st-key-lesson_box *, .st-key-present_exit *"  # the lesson's back and next, and the way out
        rules += [
            "html {font-size: 135%}",  # Streamlit sizes everything in rem: the whole page grows
            '[data-testid="stHeader"] {display: none !important}',
            f'[data-testid="stElementContainer"]:not({keep}):has({widgets}) {{display: none !important}}',
            '[data-testid="stExpander"] {display: none !important}',  # folded extras, and the teacher's notes
        ]
    if rules:  # built from this module's own names only (unknown names were dropped from the address above)
        st.html("<style>" + "\n".join(rules) + "</style>")


def presenter_exit(page) -> None:
    """In presenter mode, a small way back to the normal view at the bottom of the page (the address without
    ?present=, and never with a teacher's key)."""
    if not presenting():
        return
    q = {k: v for k, v in url.address().items() if k not in ("present", "teacher")}
    with st.container(key="present_exit"):
        st.page_link(page, label="Leave presenter mode", icon=":material/close_fullscreen:", query_params=q)
