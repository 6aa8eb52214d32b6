"""The one way a page keeps its settings: each control keeps its value for the whole session (across pages, and
while a page waits for a result) and, where it names an address parameter, in the address. A value the address
brings that this page did not write itself (a link, a lesson step, a bookmark) wins, after it is checked."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import streamlit as st

from app_pages.kit.safe import plain

_WRITTEN = "_address_written"  # param -> the value this session last put in the address
# param -> value (None: dropped): what this page run's controls wrote, sent to the browser in one message at the
# run's end (sync). Each st.query_params[...] = … is a message of its own, and the browser redraws its address on
# each (a page's first run after a link writes all its settings: eleven messages on Train). None outside a page's full
# run (a fragment's run, an AppTest of a single function): then a write goes out at once, as before.
_PENDING = "_address_pending"
_OPENING = "_address_page_opening"  # whether this full run opens its page (page_opened)


def begin() -> None:
    """A page's full run starts: its controls' address writes wait for sync() at its end. A run cut short (a click,
    st.rerun) sends none of them: the next run writes them again."""
    st.session_state[_PENDING] = {}
    st.session_state[_OPENING] = False


def page_opened() -> None:
    """This run opens a page (from another page's link, the sidebar's or a lesson's): whatever its address holds came
    with that link, so every value in it counts as arriving, even one equal to what another page wrote under the same
    name (the Data sets page's ?dataset= is its "Look at"; its "Train a model on …" link sets the Train page's). And
    each control's kept value is given to its widget again (_settle)."""
    st.session_state[_WRITTEN] = {}
    st.session_state[_OPENING] = True


def arriving(param: str) -> str | None:
    """The address's value of `param` when it came from outside (not written by this session), else None."""
    if param in (st.session_state.get(_PENDING) or {}):
        return None  # written in this run
    v = st.query_params.get(param)
    if v is None or st.session_state.get(_WRITTEN, {}).get(param) == v:
        return None
    return v


def take(param: str) -> str | None:
    """The address's value of `param` when it came from outside (a link, a reload), taken once: the next run sees it
    as this session's own."""
    v = arriving(param)
    if v is not None:
        st.session_state.setdefault(_WRITTEN, {})[param] = v
    return v


def write(**params) -> None:
    """Put the page's settings in the address (so a link or a reload opens the same view) and note them as ours."""
    texts = {name: "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
             for name, value in params.items()}
    pending = st.session_state.get(_PENDING)
    if pending is not None:  # a page's full run: sent with the others at its end (sync)
        pending.update(texts)
        return
    st.session_state.setdefault(_WRITTEN, {}).update(texts)
    for name, text in texts.items():
        if st.query_params.get(name) != text:
            st.query_params[name] = text


def drop(*params: str) -> None:
    """Take settings that do not apply to what is chosen now out of the address (a model without a hidden activation
    has no `hidden_act`), so a link or a reload says only what the page uses."""
    pending = st.session_state.get(_PENDING)
    written = st.session_state.setdefault(_WRITTEN, {})
    for name in params:
        written.pop(name, None)
        if pending is not None:  # a page's full run: gone with the others' writes at its end (sync)
            pending[name] = None
        elif name in st.query_params:
            del st.query_params[name]


def address() -> dict[str, str]:
    """The address as this run leaves it so far: the one the run began with, with the run's writes and drops."""
    merged = st.query_params.to_dict() | (st.session_state.get(_PENDING) or {})
    return {name: value for name, value in merged.items() if value is not None}


_NOTES = "_address_notes"  # what the address asked for that a control could not take, shown when a run gets to its end


def _note(text: str) -> None:
    """Tell the student a value from the address was not taken. In a page's full run the toast waits for sync(): a run
    cut short (a map's job queued, then st.rerun) loses what it drew, and the value is taken once only."""
    if st.session_state.get(_PENDING) is None:
        st.toast(text)
    else:
        st.session_state.setdefault(_NOTES, []).append(text)


def sync() -> None:
    """Send the address to the browser, once at the end of every page run: the run's settings (write), and a link to
    the page already shown (presenter mode's way out, a lesson's next step on the same page) changes the address
    without any control writing to it, and the browser would keep the old one."""
    pending, final = st.session_state.get(_PENDING) or {}, address()
    st.session_state[_PENDING] = None
    for text in st.session_state.pop(_NOTES, []):
        st.toast(text)
    st.session_state.setdefault(_WRITTEN, {}).update({k: v for k, v in pending.items() if v is not None})
    st.query_params.from_dict(final)


def forget(*params: str) -> None:
    """Take the address's values of these params as new again (a lesson step that sets them)."""
    written = st.session_state.setdefault(_WRITTEN, {})
    for p in params:
        written.pop(p, None)


def _number(raw: str, lo, hi, cast) -> tuple[Any, bool]:
    """(the value clamped into [lo, hi], whether it was changed) — None when it is no number at all."""
    try:
        x = float(raw)
    except (TypeError, ValueError):
        return None, True
    if not math.isfinite(x):
        return None, True
    out = cast(min(max(x, lo), hi))
    return out, out != x


def control(widget: Callable, label: str, options: Sequence | None = None, *, key: str, default,
            param: str | None = None, lo=None, hi=None, cast: Callable = int, parse: Callable | None = None,
            text: Callable | None = None, **kw):
    """Draw `widget` (st.selectbox, st.radio, st.number_input, st.slider, st.multiselect, st.checkbox, …, or a
    column's one) with its value kept for the session; with `param`, bound to the address.

    `options` for choice widgets; `lo`/`hi` (and `cast`) for numbers, passed on as min and max; `parse` turns an
    address value into the widget's value (None: not valid), `text` the widget's value into the address's. The value the page computes with is the value shown:
    it is put in the widget's state before the widget is drawn, never passed as a second default.
    """
    _settle(label, options, key, default, param, lo, hi, cast, parse)
    if lo is not None:
        kw.setdefault("min_value", lo)
        kw.setdefault("max_value", hi)
    args = (label,) if options is None else (label, list(options))
    value = widget(*args, key=key, persist_state="session", **kw)
    if param:
        shown = text(value) if text else ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        write(**{param: shown})
    return value


def kept(key: str, default, options: Sequence | None = None, lo=None, hi=None, cast: Callable = int,
         param: str | None = None):
    """The value a control (drawn with `control` and the same arguments) has while it is not drawn (a closed
    section's): the one last chosen, or set by a recipe or a lesson, if valid; else `default`. With `param`, bound
    to the address as the drawn control is (a link sets it, a reload keeps it)."""
    _settle(key, options, key, default, param, lo, hi, cast, None)
    value = st.session_state[key]
    if param:
        write(**{param: value})
    return value


def _settle(label, options, key, default, param, lo, hi, cast, parse) -> None:
    """Put the control's value in its state before it is drawn: the address's (checked), the one kept, or `default`."""
    def valid(v) -> bool:
        if options is not None:
            return all(x in options for x in v) if isinstance(v, list) else v in options
        if lo is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
            return lo <= v <= hi
        return True

    # taken now, even if this run is cut short before its writes go out (url.sync): a value the student picks
    # meanwhile is not overridden by the link again in the next run
    incoming = take(param) if param else None
    if incoming is not None:
        if parse is not None:
            value, changed = parse(incoming), False
        elif options is not None:
            value = next((o for o in options if str(o) == incoming), None)
            changed = value is None
        elif lo is not None:
            value, changed = _number(incoming, lo, hi, cast)
        else:
            value, changed = incoming, False
        if value is not None and valid(value):
            st.session_state[key] = value
        if changed or value is None:
            shown = value if value is not None else default
            _note(f"The address asked for {param}={plain(incoming[:20])}, which {label.lower()} does not take: "
                  f"{plain(str(shown))} is used.")
    if key not in st.session_state or not valid(st.session_state[key]):
        st.session_state[key] = default
    elif st.session_state.get(_OPENING):  # set again as a page opens, so the widget shows it: after a page switch
        # the browser could hand a selectbox's first option back in place of the value kept (a link's ?run=zoo:conv-k2,
        # then zoo:conv-k16 on the next page)
        st.session_state[key] = st.session_state[key]


def tabs(labels: list[str], *, key: str, param: str):
    """st.tabs whose open tab is kept for the session and in the address (only the open tab's content runs)."""
    incoming = arriving(param)
    if incoming in labels:
        st.session_state[key] = incoming
    if st.session_state.get(key) not in labels:
        st.session_state[key] = labels[0]
    shown = st.tabs(labels, key=key, on_change="rerun")
    write(**{param: next((label for label, t in zip(labels, shown) if t.open), labels[0])})
    return shown
