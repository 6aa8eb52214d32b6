"""Draw a digit with the mouse in a real browser: the 28x28 image, its reconstruction and its ★ appear; the drawing
survives the canvas leaving the page; Undo and Clear."""

from pathlib import Path

import pytest

from browser_kit import ERRORS, SHOTS, need_chromium, serve, settle, stroke

HARNESS = "tests/apps/draw_harness.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    home = tmp_path_factory.mktemp("draw")
    log = home / "server.log"
    with serve({"AELAB_HOME": str(home)}, log_path=str(log), script=HARNESS) as (url, _):
        yield url, str(log)


def python_has(page, n: int):
    page.get_by_text(f"Python has {n} strokes").wait_for(timeout=20000)
    settle(page)


def test_draw_a_digit_see_it_reconstructed_and_starred_then_undo_and_clear(server, browser):
    url, log_path = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    offsite = []
    page.on("request", lambda r: offsite.append(r.url) if not r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else None)
    try:
        page.goto(url, wait_until="domcontentloaded")
        canvas = page.locator("canvas.aedraw-canvas")
        canvas.wait_for(timeout=60000)
        settle(page)
        page.get_by_text("Draw a digit on the black square.").wait_for()
        box = canvas.bounding_box()
        assert abs(box["width"] - 280) < 1 and abs(box["height"] - 280) < 1, box
        assert not page.get_by_role("button", name="Undo").is_enabled()  # nothing to undo yet

        stroke(page, box, [(70, 60), (210, 60)])  # a 7: the bar...
        stroke(page, box, [(210, 60), (120, 240)])  # ... and the leg
        python_has(page, 2)
        page.get_by_text("your drawing as MNIST sees it").wait_for()
        page.get_by_text("its reconstruction by conv-k2").wait_for()
        images = page.locator("[data-testid='stImage'] img")
        assert images.count() == 2
        assert all(images.nth(i).evaluate("i => i.complete && i.naturalWidth === 140") for i in range(2))
        seven = images.first.get_attribute("src")
        page.locator(".js-plotly-plot .legendtext", has_text="your digit").wait_for(timeout=30000)  # the ★ trace
        page.locator(".js-plotly-plot .textpoint", has_text="your digit").wait_for()  # its label on the chart
        assert page.get_by_text("code:").count() == 1
        page.screenshot(path=str(SHOTS / "draw-digit.png"), full_page=True)

        page.get_by_text("Hide the canvas").click()  # the canvas leaves the page...
        settle(page)
        assert canvas.count() == 0
        page.get_by_text("Hide the canvas").click()  # ... and comes back with the drawing
        python_has(page, 2)
        assert canvas.get_attribute("data-strokes") == "2"
        page.get_by_text("its reconstruction by conv-k2").wait_for()

        page.get_by_role("button", name="Undo").click()  # the leg goes: only the bar is left
        python_has(page, 1)
        assert canvas.get_attribute("data-strokes") == "1"
        page.wait_for_function("(s) => document.querySelector(\"[data-testid='stImage'] img\").src !== s", arg=seven)

        page.get_by_role("button", name="Clear").click()
        python_has(page, 0)
        page.get_by_text("Draw a digit on the black square.").wait_for()
        assert page.locator("[data-testid='stImage']").count() == 0
        assert canvas.get_attribute("data-strokes") == "0"
        # the canvas is black again
        assert canvas.evaluate("c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((v, i) => i % 4 == 0 && v > 0).length") == 0
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
        assert not offsite, f"fetched from the internet: {offsite[:5]}"
    finally:
        page.screenshot(path=str(SHOTS / "last-draw-digit.png"))
        page.close()
    log = Path(log_path).read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
