"""Hostile input in a real browser (issue 24, items 16 and 17): the teacher key leaves the address and no link
carries it; markdown in an address's ?hide= makes no link and no image, nothing is fetched from another site, and
nothing of it travels into the lesson's links."""

import re
from urllib.parse import quote, urlparse

import pytest

from browser_kit import no_errors, pick_option, settle

EVIL_HIDE = "[Your session expired: log in again](http://evil.example/login),![t](http://evil.example/track.png)"
KEY = "class-key-4711"


@pytest.fixture(scope="module")
def server(warm_home):
    from browser_kit import teacher_server

    with teacher_server(warm_home("home"), KEY, idle_s=30) as started:
        yield started


def _hrefs(page) -> list[str]:
    return page.locator("a[href]").evaluate_all("links => links.map(a => a.href)")


def test_the_teacher_key_leaves_the_address_and_no_link_carries_it(server, page):
    url, _ = server
    page.goto(f"{url}/train?teacher={KEY}&present=1", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=90000)
    settle(page, 90000)
    assert KEY not in page.url and not [h for h in _hrefs(page) if KEY in h], (page.url, _hrefs(page))
    page.get_by_role("link", name="Leave presenter mode").click()
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.wait_for(state="visible", timeout=60000)
    settle(page)
    sidebar.get_by_role("link", name="Teacher").click()  # the session stays a teacher's
    page.get_by_role("heading", name="Teacher view").wait_for(timeout=60000)
    settle(page)
    no_errors(page, "teacher view")
    assert KEY not in page.url and not [h for h in _hrefs(page) if KEY in h]


def test_a_wrong_teacher_key_gets_the_apps_own_message_not_page_not_found(server, page):
    url, _ = server
    page.goto(f"{url}/teacher?teacher=wrong-key", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Teacher view").wait_for(timeout=30000)
    settle(page, 60000)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_text("This page needs the teacher key").count() == 1
    assert "wrong-key" not in page.url


def test_markdown_in_hide_is_never_a_link_an_image_or_carried_along(server, page):
    url, _ = server
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    for path, heading in (("/lessons?", "Lessons"),
                          ("/latent?lesson=latent-plane&step=1&run=zoo:conv-k2&method=raw&", "Latent space")):
        page.goto(f"{url}{path}hide={quote(EVIL_HIDE)}", wait_until="domcontentloaded")
        page.get_by_role("heading", name=heading).first.wait_for(timeout=90000)
        settle(page, 90000)
        assert page.locator("a[href*='evil.example']").count() == 0, path
        assert page.locator("img[src*='evil.example']").count() == 0, path
        assert "evil.example" not in page.locator("body").inner_text(), path
        assert "evil" not in page.url and "hide=" not in page.url, page.url  # dropped from the address itself
        hrefs = _hrefs(page)
        assert hrefs and not [h for h in hrefs if "evil" in h or "hide=" in h], hrefs
        no_errors(page, path)
    page.locator("[data-testid='stPageLink'] a", has_text="Next").first.wait_for()  # the lesson's links are there
    page.wait_for_timeout(1000)  # anything an image would have fetched is asked for by now
    fetched = [u for u in asked if urlparse(u).hostname == "evil.example"]
    assert not fetched, fetched


def test_an_address_value_a_control_cannot_take_is_told_even_where_the_page_queues_a_job(server, page):
    """?n=-3 on Latent space was put right (100 points) with no word: the toast was drawn in the run that queued the
    map and then started again, and such a run's elements never reach the screen."""
    url, _ = server
    page.goto(f"{url}/latent?run=zoo:conv-k16&method=pca&seed=23&n=-3", wait_until="domcontentloaded")
    page.locator("[data-testid='stToast']").filter(has_text="The address asked for n=-3").wait_for(timeout=60000)
    assert "which points does not take: 100 is used" in page.locator("[data-testid='stToast']").first.inner_text()
    settle(page, 90000)
    assert "n=100" in page.url
    no_errors(page, "a value the address cannot have")


HOSTILE_NAMES = ["<a href='http://evil.example/login'>Log in</a>", "[md](http://evil.example/x)", "blue_triangles"]


def test_class_names_are_text_on_every_chart(server, page, tmp_path):
    """Issue 24 item 18 and issue 27 item 14: class names with HTML or markdown in them, or underscores, are shown as
    they are: never a link in a chart, never a backslash in a chip or a label."""
    import numpy as np

    from browser_kit import upload

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (60, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "names.npz", x=x, y=np.repeat(np.arange(3), 20), class_names=np.array(HOSTILE_NAMES))
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    url, _ = server
    page.goto(f"{url}/data", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Data sets").wait_for(timeout=90000)
    settle(page, 90000)
    upload(page, tmp_path / "names.npz", "hostile-names")
    page.get_by_text("Imported hostile-names").wait_for(timeout=120000)
    page.goto(f"{url}/data?dataset=hostile-names", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Data sets").wait_for(timeout=90000)
    settle(page, 90000)
    chart = page.locator(".st-key-class_counts .xtick text")
    chart.first.wait_for(timeout=30000)
    ticks = chart.evaluate_all("els => els.map(e => e.textContent)")
    assert sorted(ticks) == sorted(HOSTILE_NAMES), ticks  # the names as they are, on the chart's axis
    assert page.locator("a[href*='evil.example']").count() == 0  # no link anywhere on the page
    page.goto(f"{url}/train?dataset=hostile-names", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=90000)
    settle(page, 90000)
    chips = page.locator("[data-testid='stMultiSelect'] [data-tag] span[title]").all_inner_texts()
    assert [c.strip() for c in chips] == HOSTILE_NAMES, chips  # no "blue\_triangles"
    assert page.locator("a[href*='evil.example']").count() == 0
    # a run on the set, then its latent map: the legend names the classes as they are
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text(re.compile(r"on hostile-names.* — done")).first.wait_for(timeout=120000)
    page.locator("[data-testid='stSidebar']").get_by_role("link", name="Latent space").click()
    page.get_by_role("heading", name="Latent space").first.wait_for(timeout=90000)
    settle(page, 90000)
    picker = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(
        has=page.get_by_text("Model run", exact=True)).first
    pick_option(page, picker, re.compile(r"yours · .*on hostile-names"))
    page.get_by_text(re.compile(r"of 12 test images")).first.wait_for(timeout=90000)
    settle(page, 90000)
    legend = page.locator("[data-testid='stPlotlyChart'] .legendtext").all_text_contents()
    assert legend == HOSTILE_NAMES, legend  # no escapes, no markup, no link
    assert page.locator("a[href*='evil.example']").count() == 0
    # a classifier on the run's code: the per-class bars and the confusion matrix name the classes as they are
    page.locator("[data-testid='stSidebar']").get_by_role("link", name="Experiments").click()
    page.get_by_role("heading", name="Experiments").first.wait_for(timeout=90000)
    settle(page, 90000)
    page.get_by_role("tab", name="Your images").click()
    settle(page, 90000)
    runs = page.locator("[data-testid='stMain'] [data-testid='stSelectbox']").filter(
        has=page.get_by_text("Run", exact=True)).first
    pick_option(page, runs, re.compile(r"yours · .*on hostile-names"))
    settle(page, 90000)
    page.get_by_role("button", name="▶ Fine-tune a classifier").click()
    confusion = page.locator(".st-key-cls_confusion")
    confusion.locator(".xtick text").first.wait_for(timeout=120000)
    for axis in ("xtick", "ytick"):
        ticks = confusion.locator(f".{axis} text").all_text_contents()
        assert sorted(ticks) == sorted(HOSTILE_NAMES), (axis, ticks)
    page.locator(".st-key-cls_per_class .xtick text").first.wait_for(timeout=30000)  # plotly may draw it after the matrix
    bars = page.locator(".st-key-cls_per_class .xtick text").all_text_contents()
    assert sorted(bars) == sorted(HOSTILE_NAMES), bars
    assert page.locator("a[href*='evil.example']").count() == 0
    assert not [r for r in requests if "evil.example" in r]
    no_errors(page, "hostile class names")
