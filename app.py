"""AE Lab: explore autoencoders on handwritten digits (streamlit run app.py)."""

from pathlib import Path

import streamlit as st

from aecore.serving import heap
from aecore.settings import current
from app_pages.kit import background, classroom, navigation, session, tab_scripts, turns, url

# A local image: an emoji or :material/…: icon makes the browser fetch the favicon from a CDN (fails offline).
st.set_page_config(page_title="AE Lab", page_icon=str(Path(__file__).resolve().parent / "data" / "favicon.png"), layout="wide")

# every run of a page takes its turn, a session's first page before the others' reruns (turns.py: why); the page's
# work is all inside
with turns.turn(current().page_turns, first="page_shown" not in st.session_state):
    st.session_state["page_shown"] = True
    url.begin()  # the page's settings go to the address together, at the end (url.sync)
    session.warm_imports()
    heap.freeze_imported()  # what imports made (the last run's too) is left out of the collector's full passes
    pages = navigation.navigation_pages()
    # our own links below carry the workspace (?ws=) to every page; /home is an alias of /
    page = st.navigation(pages + [navigation.home_alias(pages[0])] + navigation.teacher_gate(pages), position="hidden")
    ws = session.workspace()
    name = navigation.page_name(page)
    session.note_page(name)  # whether this run opens the page or reruns it
    if session.page_opened():
        url.page_opened()  # its address came with the link that opened it
    at = classroom.enter(name)  # ?lesson=…&step=…: this step's settings, and its text and question above the page
    jobs_box, jobs_shown = None, False  # where the sidebar shows this workspace's jobs, and whether it does
    page_slot = None  # or that place, left for the page to fill (Train: from the part a ▶ Train click reruns)
    if classroom.sidebar_shown(at):  # a link for the class may hide it (?hide=sidebar, ?present=1): then none is drawn
        with st.sidebar:
            for p in pages:
                st.page_link(p, query_params={"ws": ws})
            st.caption("AE Lab · autoencoders on MNIST and your own images")
            tab_scripts.draw()  # old charts give their WebGL back (a map on screen never goes blank); plotly loads early
            jobs_box = st.empty()
            if name in background.PAGES_FILLING_SIDEBAR_JOBS:
                page_slot, jobs_box = jobs_box, None
            else:
                jobs_shown = background.sidebar_jobs_in(jobs_box)  # live progress of this workspace's jobs on every page
    else:
        tab_scripts.draw()
    classroom.view(name, at)  # ?hide=… and ?present=1: a view for the class or the projector
    if at is not None:
        classroom.banner(*at)  # the lesson step's text and question, above the page
    background.offer_sidebar_slot(page_slot)
    page.run()
    if jobs_box is not None and not jobs_shown:  # the page may have queued the first one: shown at once, without
        background.sidebar_jobs_in(jobs_box)  # running the whole page again
    classroom.presenter_exit(page)
    # The browser's address is the one this run ends with. Only a run that got to its end sends it: a run cut short by
    # a click (a link to another page) would send its old address after the new one.
    url.sync()
