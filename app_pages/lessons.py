"""Lessons: the tutorials as step-by-step lessons for a class, and links that show only what a lesson needs."""

from urllib.parse import urlencode

import streamlit as st

from aecore.classroom.lessons import GLOBAL_CONTROLS
from app_pages.kit import classroom, safe, session


def main() -> None:
    st.title("Lessons")
    st.markdown("Each lesson follows one of the autoencoder tutorials, a step at a time: every step opens a page of the "
                "app with the right model and settings, says what to look at, and asks the class a question. **Back** "
                "and **Next** sit at the top of every page; each step has its own address, so you can put the links in "
                "tomorrow's slides.")
    ws = session.workspace()
    found, problems = classroom.lessons()
    for problem in problems:  # a teacher's own file with a mistake: say what and where, show the others anyway
        st.error(f"A lesson file in lessons/ cannot be used: {safe.plain(problem)}")
    the_lessons(found)
    a_link_for_the_class(ws)
    writing_a_lesson()


def the_lessons(found) -> None:
    for lesson in found:
        with st.container(border=True, key=f"lesson_{lesson.name}"):
            c1, c2 = st.columns([4, 1], vertical_alignment="center")
            c1.markdown(f"**{safe.plain(lesson.title)}**  \n{safe.plain(lesson.summary)}")
            about = f"{len(lesson.steps)} steps" + (f" · about {lesson.minutes} min" if lesson.minutes else "")
            c1.caption(about + (f" · follows: {safe.plain(lesson.source)}" if lesson.source else ""))
            c2.page_link(classroom.PAGE_FILES[lesson.steps[0].page], label="Start", icon=":material/play_arrow:",
                         query_params=classroom.step_params(lesson, 0))
            with st.expander("Steps and their addresses"):
                for i, step in enumerate(lesson.steps):
                    s1, s2 = st.columns([2, 3], vertical_alignment="center")
                    s1.page_link(classroom.PAGE_FILES[step.page], label=f"{i + 1}. {safe.plain(step.title)}",
                                 query_params=classroom.step_params(lesson, i))
                    s2.code(classroom.step_url(lesson, i), language=None)


def a_link_for_the_class(ws: str) -> None:
    st.subheader("A link that shows only what the class needs")
    st.caption("Like TensorFlow Playground's hide: pick a page and the controls to hide. Presenter mode shows large type "
               "and just the pictures, for a projector. The link keeps the page's other settings in the address too.")
    c1, c2, c3 = st.columns([1, 2, 1], vertical_alignment="bottom")
    page = c1.selectbox("Page", list(classroom.PAGE_FILES), key="link_page", format_func=str.capitalize)
    hide = c2.multiselect("Hide", sorted(set(classroom.CONTROLS[page]) | GLOBAL_CONTROLS), key=f"link_hide_{page}",
                          help="sidebar: the page list; run: the model run picker; the others are this page's controls")
    present = c3.checkbox("Presenter mode", key="link_present")
    q = ({"hide": ",".join(hide)} if hide else {}) | ({"present": "1"} if present else {})
    st.code(f"/{classroom.URL_PATHS[page]}" + (f"?{urlencode(q)}" if q else ""), language=None)
    st.page_link(classroom.PAGE_FILES[page], label="Open it", icon=":material/open_in_new:", query_params=q | {"ws": ws})


def writing_a_lesson() -> None:
    with st.expander("Write your own lesson"):
        st.markdown((classroom.LESSONS_DIR / "README.md").read_text(encoding="utf-8"))


main()
