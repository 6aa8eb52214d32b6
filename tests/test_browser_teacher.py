"""The teacher view in a real browser (issue 27, item 17): a student's name beside their workspace, and a job the
teacher stops tells the student that the teacher stopped it; the worker count agrees with itself."""

import re

import pytest

from browser_kit import ERRORS, settle

KEY = "class-key-4711"
NAME = "Ada L."


@pytest.fixture(scope="module")
def server(warm_home):
    from browser_kit import teacher_server

    with teacher_server(warm_home("home"), KEY, idle_s=60) as started:
        yield started


def test_the_teacher_sees_the_students_name_stops_the_job_and_the_student_reads_who(server, page, browser):
    url, _ = server
    # the student: a name for the teacher, then a long training job
    page.goto(f"{url}/train?model=conv&latent=8&epochs=40&batch=32&limit=12000", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=90000)
    settle(page, 90000)
    name_box = page.get_by_role("textbox", name="Your name for the teacher (optional)")
    name_box.fill(NAME)
    name_box.press("Enter")
    settle(page)
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text(re.compile(r"epoch \d+/40 · step \d+")).first.wait_for(timeout=120000)  # it runs
    ws = re.search(r"[?&]ws=([A-Za-z0-9_-]+)", page.url).group(1)

    # the teacher, in a tab of their own: the name beside the workspace's token, and Stop
    teacher = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        teacher.goto(f"{url}/teacher?teacher={KEY}", wait_until="domcontentloaded")
        teacher.get_by_role("heading", name="Teacher view").wait_for(timeout=60000)
        row = teacher.get_by_text(re.compile(rf"Job \d+ · {re.escape(NAME)} · {ws[:8]}"))
        row.first.wait_for(timeout=60000)
        assert teacher.locator(ERRORS).count() == 0
        # one count of the same workers: the metric beside the caption that says how many the server keeps (it read
        # "Live workers 2", the view worker counted, beside "1 worker(s)")
        caption = teacher.get_by_text(re.compile(r"\d+ training worker\(s\) × \d+ thread\(s\)")).first.inner_text()
        kept = int(re.match(r"(\d+) training worker", caption).group(1))
        live = teacher.locator("[data-testid='stMetric']").filter(has_text="Live training workers")
        assert int(live.get_by_test_id("stMetricValue").inner_text()) == kept, (live.inner_text(), caption)
        teacher.get_by_role("button", name="■ Stop").first.click()
        teacher.get_by_text("No job is queued or running.").wait_for(timeout=60000)
    finally:
        teacher.close()

    # the student reads who stopped it
    page.get_by_text(re.compile(r"stopped by the teacher after \d+ epoch")).first.wait_for(timeout=60000)
    assert page.locator(ERRORS).count() == 0
    settle(page)
    assert page.get_by_role("textbox", name="Your name for the teacher (optional)").input_value() == NAME  # kept
