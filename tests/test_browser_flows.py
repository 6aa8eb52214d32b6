"""Every student flow in a real browser, one test each on one shared server; no error box, no traceback in the log."""

import re
from pathlib import Path

import pytest

from browser_kit import SHOTS, no_errors, pick_option, settle, upload_test_digit

COLD_START = True  # this module's server starts on an empty data home: the first deep link waits for the warm-up
PAGES = ["Home", "Train", "Reconstructions", "Latent space", "Denoising", "Experiments"]


@pytest.fixture(scope="module")
def offsite():
    """Requests the pages made to anywhere but this machine (the app must work offline)."""
    return []


@pytest.fixture
def page(browser, offsite, request):
    """A tab that also notes every request to anywhere but this machine."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.on("request", lambda r: offsite.append(r.url) if not re.match(r"(https?|wss?)://(127\.0\.0\.1|localhost)[:/]|data:|blob:", r.url) else None)
    yield pg
    pg.screenshot(path=str(SHOTS / f"last-{request.node.name}.png"))  # what the screen showed at the end (or failure)
    pg.close()


def open_page(page, url: str, heading: str):
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name=heading).first.wait_for(timeout=90000)
    settle(page, 90000)


def shot(page, name: str):
    page.screenshot(path=str(SHOTS / f"flow-{name}.png"), full_page=True)


def set_number(page, label: str, value):
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    settle(page)


def choose(page, label: str, option: str):
    """Pick an option of a select box the way a person does: open it, click the option."""
    pick_option(page, page.locator("[data-testid='stSelectbox']").filter(has=page.get_by_text(label, exact=True)).first,
                option)
    settle(page)


def sidebar_text(page) -> str:
    return page.locator("[data-testid='stSidebar']").inner_text()


# ---- home: cold deep link, then Home ------------------------------------------------------------------
def test_home_cold_and_through_a_deep_link(server, page, offsite):
    url, _ = server
    # the very first request of a fresh server is a teacher's deep link
    open_page(page, f"{url}/latent?run=zoo:conv-k2&method=raw", "Latent space")
    shot(page, "deep-link")
    assert page.get_by_text("Page not found").count() == 0  # no modal
    nav = sidebar_text(page)
    assert all(p in nav for p in PAGES), nav
    assert "latent space" not in nav and "ui" not in nav.split()  # not the raw file names
    page.get_by_text("conv-k2 · each image becomes a code of 2 numbers").wait_for()  # the linked run is picked
    _wait_for_points(page, 150000)  # the codes are computed and drawn
    assert page.get_by_role("radio", name="raw latent axes").is_checked()
    no_errors(page, "deep link")
    open_page(page, url, "AE Lab")  # Home, as a student types the address
    assert page.get_by_text("Page not found").count() == 0
    page.get_by_text("One digit through the network").wait_for()
    page.locator("[data-testid='stImage']").first.wait_for()
    assert all(p in sidebar_text(page) for p in PAGES)
    # the digit counts chart labels every digit 0..9 (once plotly has drawn it: it can come after the images)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .xtick text').length >= 10", timeout=30000)
    ticks = page.locator(".js-plotly-plot .xtick text").all_text_contents()
    assert [str(d) for d in range(10)] == [t for t in ticks if t.isdigit()][-10:], ticks
    no_errors(page, "home")
    shot(page, "home")
    assert not offsite, f"fetched from the internet: {offsite[:5]}"  # favicon and fonts come from the app


def test_home_by_its_own_path_has_no_modal(server, page):
    url, _ = server
    open_page(page, f"{url}/home?run=zoo:conv-k2", "AE Lab")
    assert page.get_by_text("Page not found").count() == 0
    assert "run=zoo" in page.url  # the link's settings come along


# ---- train: chosen settings kept across pages, the loss curve moves in epoch 1 ------------------------
def test_train_settings_are_kept_and_the_curve_moves_in_the_first_epoch(server, page):
    url, _ = server
    open_page(page, f"{url}/train", "Train an autoencoder")
    set_number(page, "Latent size k", 5)
    set_number(page, "Epochs", 2)
    set_number(page, "Batch size", 16)
    set_number(page, "Training images (0 = all)", 16000)
    # leave the page and come back through the sidebar, as a student does
    page.locator("[data-testid='stSidebar']").get_by_role("link", name="Home").click()
    page.get_by_role("heading", name="AE Lab").wait_for(timeout=60000)
    settle(page)
    page.locator("[data-testid='stSidebar']").get_by_role("link", name="Train").click()
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=60000)
    settle(page)
    kept = {lab: page.get_by_label(lab, exact=True).input_value()
            for lab in ("Latent size k", "Epochs", "Batch size", "Training images (0 = all)")}
    assert kept == {"Latent size k": "5", "Epochs": "2", "Batch size": "16", "Training images (0 = all)": "16000"}, kept
    page.get_by_role("button", name="▶ Train").click()
    progress = page.get_by_text(re.compile(r"train · epoch 1/2 · step \d+/\d+"))
    progress.first.wait_for(timeout=120000)
    assert "16,000 images" in page.locator("[data-testid='stMarkdownContainer']").filter(has_text="Job ").first.inner_text()
    line = page.locator("[data-testid='stPlotlyChart'] .scatterlayer .trace path.js-line").first
    line.wait_for(timeout=30000)
    first = line.get_attribute("d")
    page.wait_for_function("""(d) => { const l = document.querySelector("[data-testid='stPlotlyChart'] .scatterlayer .trace path.js-line");
                                       return l && l.getAttribute('d') !== d; }""", arg=first, timeout=30000)
    assert progress.count() > 0, "the curve should move while the first epoch is still running"
    no_errors(page, "training")
    shot(page, "train-live")
    page.get_by_role("button", name="■ Stop").first.click()  # do not leave the job running for the next tests
    page.get_by_text(re.compile(r"stopped by the user after \d+ epoch")).first.wait_for(timeout=60000)


# ---- stop --------------------------------------------------------------------------------------------
def test_stop_keeps_the_weights_so_far(server, page):
    url, _ = server
    open_page(page, f"{url}/train?model=dense&latent=3&epochs=200&batch=8&limit=3000", "Train an autoencoder")
    page.get_by_label("Name of the run").fill("to be stopped")
    page.get_by_label("Name of the run").press("Enter")
    settle(page)
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text(re.compile(r"epoch \d+/200 · step \d+")).first.wait_for(timeout=120000)  # it runs
    page.get_by_role("button", name="■ Stop").first.click()
    page.get_by_text(re.compile(r"stopped by the user after \d+ epoch")).first.wait_for(timeout=60000)
    page.get_by_text("to be stopped — stopped").first.wait_for(timeout=60000)  # kept under "Your runs"
    settle(page)
    assert page.get_by_text(re.compile(r"epoch \d+/200 · step")).count() == 0  # no longer running
    no_errors(page, "stop")
    shot(page, "train-stopped")


# ---- latent space: select by click, box and lasso -----------------------------------------------------
def _wait_for_points(page, timeout_ms: int = 60000):
    page.wait_for_function("""() => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                      return gd && gd._fullData && gd._fullData.length > 0 && gd._fullData[0].x && gd._fullData[0].x.length > 5; }""",
                           timeout=timeout_ms)


def _point_on_screen(page, trace: int = 0, i: int = 0) -> tuple[float, float]:
    """Where a scatter point is drawn, in page pixels (works for SVG and WebGL scatters alike)."""
    return page.evaluate("""([t, i]) => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
        const r = gd.getBoundingClientRect(), fl = gd._fullLayout, d = gd._fullData[t];
        return [r.left + fl.xaxis._offset + fl.xaxis.d2p(d.x[i]), r.top + fl.yaxis._offset + fl.yaxis.d2p(d.y[i])]; }""", [trace, i])


def _plot_area(page):
    area = page.locator("[data-testid='stPlotlyChart'] .nsewdrag").first
    area.wait_for(timeout=60000)
    return area.bounding_box()


def _selected(page) -> int:
    cap = page.get_by_text(re.compile(r"^\d+ selected")).first
    cap.wait_for(timeout=60000)
    return int(cap.inner_text().split()[0])


def _assert_selection_shown(page, where: str):
    n = _selected(page)
    assert n >= 1
    page.get_by_text(re.compile(r"top: originals · bottom: reconstructions")).first.wait_for()
    page.get_by_text(re.compile(r"its 10 nearest neighbours in the 2-D latent space")).first.wait_for()
    page.get_by_role("heading", name="Selected points").scroll_into_view_if_needed()  # for the screenshot
    no_errors(page, where)
    return n


def test_latent_select_by_click_box_and_lasso(server, page):
    url, _ = server
    open_page(page, f"{url}/latent?run=zoo:conv-k2&method=raw", "Latent space")  # the default 2,000 points
    page.get_by_text("Click a point (or pick").wait_for()
    assert page.get_by_role("radio", name="click (drag pans)").is_checked()  # the default, as the caption says
    # click: one point of the digit-0 trace
    _plot_area(page)
    _wait_for_points(page)
    x, y = _point_on_screen(page, 0, 5)
    page.mouse.move(x, y)
    page.wait_for_timeout(400)
    # its hover line, made in the browser from the trace's template and the point's numbers
    hover = page.locator("[data-testid='stPlotlyChart'] .hoverlayer .hovertext").first
    hover.wait_for(timeout=10000)
    line = hover.text_content()  # an SVG text
    said = re.fullmatch(r"test image #(\d+) · digit 0 · error 0\.\d{4} · probe reads \d", line)
    assert said, line
    page.mouse.click(x, y)
    settle(page)
    assert _assert_selection_shown(page, "click") == 1
    shot(page, "latent-click")
    picked = re.search(r"[?&]sel=(\d+)(&|$)", page.url)
    assert picked, page.url  # the picked point is in the address …
    assert picked.group(1) == said.group(1)  # the point the hover named
    page.reload(wait_until="domcontentloaded")  # … so a reload (or the link, shared) shows it picked
    page.get_by_text(re.compile(r"^1 selected · per digit: ")).first.wait_for(timeout=90000)
    settle(page)
    assert f"sel={picked.group(1)}" in page.url

    # box (the chart is redrawn in box mode: drag once it is there; the page then replaces the 1-point selection)
    page.get_by_text("box (drag a rectangle)").click()
    settle(page)
    _wait_for_points(page)
    for attempt in range(3):  # a drag that lands while the chart is still being redrawn is lost: drag again
        a = _plot_area(page)
        page.mouse.move(a["x"] + a["width"] * 0.3, a["y"] + a["height"] * 0.3)
        page.mouse.down()
        page.mouse.move(a["x"] + a["width"] * 0.5, a["y"] + a["height"] * 0.5, steps=8)
        page.mouse.move(a["x"] + a["width"] * 0.7, a["y"] + a["height"] * 0.7, steps=8)
        page.mouse.up()
        settle(page)
        try:
            page.get_by_text(re.compile(r"^([2-9]|\d{2,}) selected")).first.wait_for(timeout=(5000, 8000, 20000)[attempt])
            break
        except Exception:
            continue
    page.wait_for_timeout(1000)  # a drag taken late (the chart was still being redrawn) reruns the page once more
    settle(page)
    n_box = _assert_selection_shown(page, "box")
    assert n_box > 1
    # the linked views: every selected point counted under its digit (one caption, so one run of the page), the
    # per-digit and error charts, and the selection ringed on the map
    caption = page.get_by_text(re.compile(r"^\d+ selected · per digit: ")).first.inner_text()
    counts = [int(c) for c in re.findall(r"\d: (\d+)", caption)]
    assert sum(counts) == int(caption.split()[0]) == n_box, (caption, n_box)
    page.get_by_text("Selected points per digit").first.wait_for()
    page.get_by_text("Reconstruction error: the selection against all points shown").first.wait_for()
    traces = page.evaluate("""() => document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot")._fullData.map(d => d.name)""")
    assert f"selected ({n_box})" in traces
    shot(page, "latent-box")

    # lasso: a triangle around the middle
    page.get_by_text("lasso (draw around)").click()
    settle(page)
    a = _plot_area(page)
    cx, cy, w, h = a["x"] + a["width"] / 2, a["y"] + a["height"] / 2, a["width"], a["height"]
    page.mouse.move(cx - 0.25 * w, cy + 0.2 * h)
    page.mouse.down()
    for fx, fy in [(0.0, -0.3), (0.25, 0.2), (-0.25, 0.2)]:  # a few moves per side: each redraws the map (~0.4 s
        page.mouse.move(cx + fx * w, cy + fy * h, steps=3)  # in a software-rendered chromium)
    page.mouse.up()
    settle(page)
    assert _assert_selection_shown(page, "lasso") > 1
    shot(page, "latent-lasso")


# ---- upload a digit ----------------------------------------------------------------------------------
def test_upload_a_digit(server, page, tmp_path):
    url, _ = server
    open_page(page, f"{url}/latent?run=zoo:conv-k2&method=raw&n=1000", "Latent space")
    upload_test_digit(page, tmp_path)  # a 0, as a photo would be: dark ink on white, larger
    page.get_by_text(re.compile("prepared like MNIST")).first.wait_for(timeout=60000)
    settle(page)
    page.get_by_text("★ your digit (more under").wait_for()
    page.get_by_text(re.compile("prepared like MNIST")).first.scroll_into_view_if_needed()
    page.locator("[data-testid='stPlotlyChart'] .legendtext").filter(has_text="your digit").first.wait_for()
    assert page.locator("[data-testid='stPlotlyChart'] text").filter(has_text="your digit").count() >= 1  # the ★ label
    no_errors(page, "upload")
    shot(page, "upload-digit")


# ---- denoising: each noise type ------------------------------------------------------------------------
def test_denoising_each_noise_type(server, page):
    url, _ = server
    open_page(page, f"{url}/denoising?run=zoo:conv-k16-denoise", "Denoising")
    for label, warns in [("Gaussian noise", True), ("salt and pepper", True), ("masking (pixels set to 0)", False)]:
        choose(page, "Corruption", label)
        page.get_by_text(re.compile(rf"middle: {re.escape(label)} at")).first.wait_for(timeout=60000)
        page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=60000)
        warning = page.get_by_text("This model was trained on masking (pixels set to 0) at 0.5, but you chose")
        assert (warning.count() > 0) == warns, label
        if not warns:
            page.get_by_text(re.compile("the same corruption as chosen here")).first.wait_for()
        assert page.get_by_text("MSE of these 10 after the model").count() == 1
        no_errors(page, f"denoising {label}")
        shot(page, "denoising-" + label.split()[0].lower())


# ---- the smallest experiment ---------------------------------------------------------------------------
def test_smallest_experiment_runs(server, page):
    url, _ = server
    open_page(page, f"{url}/experiments", "Experiments")
    choose(page, "Model", "linear")
    page.get_by_text("2, 8, 32").click()
    settle(page)
    set_number(page, "Epochs", 1)
    set_number(page, "Training images (0 = all)", 1000)
    page.get_by_role("button", name="▶ Run experiment").click()
    page.get_by_role("button", name="Download sweep (CSV)").wait_for(timeout=120000)
    settle(page)
    page.locator("[data-testid='stDataFrame']").first.wait_for()
    page.locator("[data-testid='stDataFrame']").first.scroll_into_view_if_needed()
    page.locator("[data-testid='stPlotlyChart'] .xtick text").first.wait_for(timeout=30000)  # drawn after the table
    ticks = page.locator("[data-testid='stPlotlyChart'] .xtick text").all_text_contents()
    assert ticks == ["2", "8", "32"], ticks
    page.get_by_text(re.compile(r"then one row per k: 2, 8, 32")).first.wait_for()
    no_errors(page, "experiment")
    shot(page, "experiment-sweep")


def test_server_log_holds_no_traceback(server):
    _, proc = server
    log = Path(proc.log_path).read_text(errors="replace")
    assert "Traceback" not in log, log[log.find("Traceback") - 200 :][:3000]
