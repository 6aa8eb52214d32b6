"""Teacher view (opened with ?teacher=KEY): every workspace's jobs with progress, stop any, publish runs."""

import time

import streamlit as st

from aecore.engine.client import JobProgress, StoreError, describe
from app_pages.kit import safe, session


def main() -> None:
    st.title("Teacher view")
    if not has_the_key():
        return
    server_limits()
    class_jobs()
    every_workspaces_runs()


def has_the_key() -> bool:
    """Whether this session is a teacher's; else why the page stays closed."""
    if session.is_teacher():  # (the key is compared in constant time and taken out of the address: session.py)
        return True
    if session.engine().settings.teacher_key:
        st.error("This page needs the teacher key: open /teacher?teacher=… with the key the person who runs the server "
                 "set (AELAB_TEACHER_KEY). The key you gave, if any, is not it.", icon=":material/lock:")
    else:
        st.error("The teacher view is off on this server: it opens with a teacher key, which the person who runs the "
                 "server sets (AELAB_TEACHER_KEY).", icon=":material/lock:")
    return False


def server_limits() -> None:
    s = session.engine().settings
    st.caption(f"{s.resolved_workers()} training worker(s) × {s.resolved_threads()} thread(s), and {s.view_workers} "
               f"for the pages' short jobs · at most {s.per_workspace} unfinished job(s) per workspace · budget "
               f"{s.budget_images:,} images per job · time limit {s.time_limit_s:.0f} s per job · workspaces expire "
               f"after {s.expire_days:g} days unused")


@st.fragment(run_every=2.0)
def class_jobs() -> None:
    eng = session.engine()
    jobs, names = eng.all_jobs(limit=300), eng.student_names()
    active = [j for j in jobs if j.active]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Running", sum(j.status == "running" for j in jobs))
    m2.metric("Queued", sum(j.status == "queued" for j in jobs))
    m3.metric("Workspaces with jobs", len({j.workspace for j in active}))
    m4.metric("Live training workers", eng.live_workers(),
              help=f"of the {eng.settings.resolved_workers()} this server keeps; besides them "
                   f"{eng.live_view_workers()} worker(s) compute the pages' short jobs")
    order = eng.queue_places()
    for j in active:
        c1, c2, c3 = st.columns([5, 3, 1])
        name = names.get(j.workspace, "")
        c1.markdown(f"**Job {j.id}** · " + (f"**{safe.plain(name)}** · " if name else "")
                    + f"`{j.workspace[:8]}` · {safe.plain(j.label)}")
        if j.status == "queued":
            c2.caption(f"queued, place {order.get(j.id, '?')}")
        else:
            p = JobProgress.from_dict(j.progress)
            c2.progress(p.share if p else 0.0, text=safe.plain(describe(j.progress)))
        if c3.button("■ Stop", key=f"t_stop_{j.id}"):
            eng.stop(j.id, None, teacher=True)  # a teacher may stop any job; the student is told who stopped it
    if not active:
        st.caption("No job is queued or running.")
    st.dataframe([{"job": j.id, "workspace": j.workspace[:8], "student": names.get(j.workspace, ""), "status": j.status,
                   "epochs done": j.epochs_done, "what": j.label,
                   "ended": time.strftime("%H:%M:%S", time.localtime(j.finished)) if j.finished else "",
                   "message": j.error} for j in jobs if not j.active][:100], hide_index=True)


def every_workspaces_runs() -> None:
    st.subheader("Runs of every workspace")
    eng = session.engine()
    names = eng.student_names()
    for r in eng.all_runs()[:200]:
        c1, c2 = st.columns([6, 1])
        name = names.get(r.workspace, "")
        c1.caption(f"{'🌐 ' if r.shared else ''}{safe.plain(r.name)} · " + (f"{safe.plain(name)} · " if name else "")
                   + f"`{r.workspace[:8]}` · {safe.plain(r.summary)}")
        if c2.button("Unpublish" if r.shared else "Publish", key=f"t_pub_{r.id}"):
            try:
                eng.share_run(r.id, not r.shared, None)
                st.rerun()
            except StoreError as e:
                st.error(str(e))


main()
