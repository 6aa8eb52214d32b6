"""Latent space in a real browser: the 3-D switch draws a 3-D chart; a digit drawn on the page gets its reconstruction,
code and stars. (Click, box and lasso selections and their linked views: test_browser_flows.py.)"""

import re
import time

from browser_kit import SHOTS, no_errors, pick_option, settle, stroke


def open_latent(page, url: str):
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name="Latent space").first.wait_for(timeout=90000)
    settle(page, 90000)
    page.wait_for_function("""() => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                      return gd && gd._fullData && gd._fullData.length > 0 && gd._fullData[0].x && gd._fullData[0].x.length > 5; }""",
                           timeout=90000)


def chart_traces(page) -> list:
    """(type, name) of the first chart's traces."""
    return page.evaluate("""() => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                    return gd._fullData.map(d => [d.type, d.name]); }""")


def switch_to(page, radio: str, trace_type: str):
    page.get_by_role("radio", name=radio, exact=True).click(force=True)
    settle(page, 90000)
    page.wait_for_function("""(t) => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                       return gd && gd._fullData && gd._fullData.length && gd._fullData[0].type === t; }""",
                           arg=trace_type, timeout=90000)


def test_switch_to_3d_draws_a_3d_chart_and_it_stays_drawn_after_many_maps(server, page):
    """Issue 27 item 16: after a long session the 3-D view showed only its legend. Every map drawn anew makes fresh
    WebGL contexts and the browser keeps about 16, dropping the oldest still alive, which can be the map on screen;
    the page gives back the contexts of charts that left it, so the browser never has to drop one (18 made here)."""
    url, _ = server
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if "WebGL context" in m.text else None)
    open_latent(page, f"{url}/latent?run=zoo:conv-k16&method=pca&n=300")
    switch_to(page, "3-D", "scatter3d")
    assert page.locator("[data-testid='stPlotlyChart'] .gl-container canvas, [data-testid='stPlotlyChart'] canvas").count() >= 1
    assert page.get_by_text("3-D: drag to rotate").count() == 1
    assert {t for t, _ in chart_traces(page)} == {"scatter3d"}
    switch_to(page, "2-D", "scattergl")
    for method in ("raw latent axes", "PCA") * 3:  # a student trying things: a 2-D WebGL map makes two contexts
        switch_to(page, method, "scattergl")
    switch_to(page, "3-D", "scatter3d")
    page.wait_for_timeout(2500)  # a canvas that left the page gives its context back after 2 s
    made, released = page.evaluate("() => [window.__aelabWebglRelease.made, window.__aelabWebglRelease.released]")
    assert made >= 17, made  # the browser's limit is about 16: without giving back, it would have had to drop some
    assert made - released <= 4, (made, released)  # only the map on screen holds a context now
    lost = page.evaluate("""() => [...document.querySelectorAll("[data-testid='stPlotlyChart'] canvas")]
                                    .map(c => { const g = c.getContext('webgl') || c.getContext('webgl2');
                                                return g ? g.isContextLost() : null; })""")
    assert lost and not any(lost), lost  # the 3-D map on screen still draws
    assert not warnings, warnings  # "Too many active WebGL contexts. Oldest context will be lost."
    no_errors(page, "3-D")
    page.screenshot(path=str(SHOTS / "flow-latent-3d.png"), full_page=True)


def test_draw_a_digit_on_the_latent_page_its_reconstruction_code_and_stars_appear(server, page):
    url, _ = server
    open_latent(page, f"{url}/latent?run=zoo:conv-k2&method=raw&n=2000")
    page.get_by_text("a drawing (draw it here)").click()
    canvas = page.locator("canvas.aedraw-canvas")
    canvas.wait_for(timeout=60000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    stroke(page, box, [(140, 40), (140, 240)])  # a 1
    page.get_by_text(re.compile(r"prepared like MNIST \(28×28, centred\) · its reconstruction · MSE")).first.wait_for(timeout=60000)
    settle(page, 60000)
    page.get_by_text("its code: 2 numbers").first.wait_for(timeout=30000)  # the code as bars
    page.get_by_text(re.compile(r"on the decoded plane")).first.wait_for(timeout=30000)  # beside the plane, with its ★
    assert any(name == "your digit" for _, name in chart_traces(page))  # the ★ on the map
    no_errors(page, "draw on the latent page")
    page.screenshot(path=str(SHOTS / "flow-latent-draw.png"), full_page=True)


# ---- issue 27: every control shows the value the page computes with ----------------------------------------
def shown(page, label: str, where: str = "[data-testid='stMain']") -> str:
    """What a select box shows (its label's box: the chosen option's text)."""
    box = page.locator(f"{where} [data-testid='stSelectbox']").filter(has=page.get_by_text(label, exact=True)).first
    return box.inner_text() + " " + " ".join(box.locator("input").evaluate_all("els => els.map(e => e.value)"))


def choose(page, label: str, option: str, where: str = "[data-testid='stMain']"):
    pick_option(page, page.locator(f"{where} [data-testid='stSelectbox']").filter(has=page.get_by_text(label, exact=True)).first,
                option)
    settle(page, 90000)


def test_colour_by_shows_what_the_map_uses_after_it_finishes_and_the_run_follows_to_other_pages(server, page):
    url, _ = server
    page.goto(f"{url}/latent?run=zoo:conv-k16&method=tsne&n=300&seed=3", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Latent space").first.wait_for(timeout=90000)
    page.locator("[data-testid='stSelectbox']").filter(has=page.get_by_text("Colour by", exact=True)).first.wait_for()
    choose(page, "Colour by", "reconstruction error")  # while the map may still converge: the control is above it
    page.wait_for_function("""() => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                      return gd && gd._fullData && gd._fullData.length && gd.layout.title &&
                                             /300 of 10,000/.test(gd.layout.title.text) &&
                                             gd._fullData[0].marker && gd._fullData[0].marker.colorbar; }""", timeout=120000)
    settle(page, 60000)
    assert "reconstruction error" in shown(page, "Colour by")  # the control reads what the map is coloured by
    names = [n for _, n in chart_traces(page)]
    assert names[0] == "error", names
    # the run goes with the student: Reconstructions opens on it, and its second run shows what its picker says
    page.locator("[data-testid='stSidebar']").get_by_role("link", name="Reconstructions").click()
    page.get_by_role("heading", name="Reconstructions").first.wait_for(timeout=90000)
    settle(page, 90000)
    assert "conv-k16" in shown(page, "Model run", "[data-testid='stSidebar']")
    choose(page, "Second run", "zoo · conv-k2")
    page.get_by_text(re.compile(r"conv k=2, .* · test MSE")).first.wait_for(timeout=90000)
    assert "conv-k2" in shown(page, "Second run")
    page.locator("[data-testid='stSidebar']").get_by_role("link", name="Latent space").click()
    page.get_by_role("heading", name="Latent space").first.wait_for(timeout=90000)
    settle(page, 90000)
    assert "conv-k16" in shown(page, "Model run", "[data-testid='stSidebar']")
    assert page.get_by_role("radio", name="t-SNE").is_checked()
    assert "reconstruction error" in shown(page, "Colour by")
    no_errors(page, "controls across pages")


def test_the_sidebar_says_what_a_map_job_is_doing_as_the_page_does(server, page):
    """The sidebar's job box follows a map as the page's own box does: it no longer says "in the queue" within 2.5 s
    of the page showing the map's progress (it used to for up to 5 s: it was polled at a training queue's pace)."""
    url, _ = server
    open_latent(page, f"{url}/latent?run=zoo:conv-k16&method=pca&seed=11")
    page.get_by_role("radio", name="UMAP", exact=True).click(force=True)
    page.locator("[data-testid='stMain'] [data-testid='stProgress']").first.wait_for(timeout=60000)  # running
    shown_at = time.monotonic()
    page.wait_for_function("""() => !/in the queue/.test(document.querySelector("[data-testid='stSidebar']").innerText)""",
                           timeout=10000, polling=100)
    assert time.monotonic() - shown_at < 2.5
    settle(page, 90000)
    no_errors(page, "sidebar job box")


def test_a_run_of_your_own_follows_you_to_every_page(server, page):
    """Issue 27 item 5: a run picked on one page is the run on the next; it was zoo · conv-k16 again on Latent space
    and Experiments. And a run just trained is the run the other pages open on (it was the zoo's conv-k16 until the
    student picked it). The run picked then is one no page opens on by default, so the check cannot pass by chance."""
    url, _ = server
    page.goto(f"{url}/train?model=dense&latent=2&epochs=1&batch=50&limit=600&dataset=mnist", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").first.wait_for(timeout=90000)
    settle(page, 60000)
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text(re.compile(r"dense k=2, 600 images.* — done")).first.wait_for(timeout=120000)
    sidebar = "[data-testid='stSidebar']"
    page.locator(sidebar).get_by_role("link", name="Reconstructions").click()
    page.get_by_role("heading", name="Reconstructions").first.wait_for(timeout=90000)
    settle(page, 90000)
    assert "yours · dense k=2, 600 images" in shown(page, "Model run", sidebar)  # what they just trained
    page.get_by_text(re.compile(r"dense k=2, 600 images.*: random test images")).first.wait_for(timeout=60000)
    choose(page, "Model run", "zoo · conv-k2", sidebar)
    page.get_by_text(re.compile(r"conv-k2.*: random test images")).first.wait_for(timeout=60000)
    for name in ("Latent space", "Denoising", "Experiments", "Reconstructions"):
        page.locator(sidebar).get_by_role("link", name=name).click()
        page.get_by_role("heading", name=name).first.wait_for(timeout=90000)
        settle(page, 90000)
        assert "zoo · conv-k2" in shown(page, "Model run", sidebar), name
        assert "run=zoo%3Aconv-k2" in page.url or "run=zoo:conv-k2" in page.url, page.url  # and so does the address
    page.get_by_text(re.compile(r"conv-k2.*: random test images")).first.wait_for(timeout=60000)
    no_errors(page, "the run follows")


def test_the_run_a_link_opened_is_the_run_of_the_next_page(server, page):
    """A session that starts on a link (a reload, a shared address: ?run=zoo:conv-k2) showed that run, then zoo ·
    conv-k16 on the first page it opened next, though the page's own state still held conv-k2: the browser handed the
    selectbox's first value back. Denoising, the page opened here, would otherwise open on conv-k16-denoise."""
    url, _ = server
    open_latent(page, f"{url}/latent?run=zoo:conv-k2&method=raw&n=300")
    sidebar = "[data-testid='stSidebar']"
    assert "zoo · conv-k2" in shown(page, "Model run", sidebar)
    for name in ("Denoising", "Reconstructions"):
        page.locator(sidebar).get_by_role("link", name=name).click()
        page.get_by_role("heading", name=name).first.wait_for(timeout=90000)
        settle(page, 90000)
        assert "zoo · conv-k2" in shown(page, "Model run", sidebar), name
        assert "run=zoo%3Aconv-k2" in page.url or "run=zoo:conv-k2" in page.url, page.url
    no_errors(page, "a link's run follows")


def test_the_map_page_says_its_own_limits_and_keeps_one_way_to_pick(server, page):
    """Issue 27 item 18 on Latent space: the digit uploader states the page's own limit (5 MB, not the server's 64 MB);
    the chart's toolbar has no select tools of its own (a box chosen there lasted one drag; "Pick points by" is the one
    place to choose); coloured by error, the legend sits below the chart, clear of the colour bar's title."""
    url, _ = server
    open_latent(page, f"{url}/latent?run=zoo:conv-k16&method=pca&n=2000&colour=error")
    uploader = page.locator("[data-testid='stFileUploader']").filter(has_text="handwritten digit").first
    uploader.wait_for(timeout=30000)
    assert "5MB per file" in uploader.inner_text() and "64MB" not in uploader.inner_text()
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.hover()
    assert chart.locator(".modebar-btn[data-title='Pan']").count() == 1  # the toolbar is there
    assert chart.locator(".modebar-btn[data-title='Box Select'], .modebar-btn[data-title='Lasso Select']").count() == 0
    legend = page.evaluate("""() => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                      return [gd.layout.legend && gd.layout.legend.orientation, gd._fullData[0].marker.colorbar.title.text]; }""")
    assert legend == ["h", "error (MSE)"], legend
    no_errors(page, "map page limits")


def test_a_carried_address_never_starts_heavy_work_by_itself(server, page):
    url, _ = server
    page.goto(f"{url}/latent?run=zoo:conv-k16&method=tsne&n=10000", wait_until="domcontentloaded")
    page.get_by_text("This map is a t-SNE of 10,000 points").wait_for(timeout=90000)
    settle(page, 60000)
    assert page.locator("[data-testid='stPlotlyChart']").count() == 0  # nothing was started
    assert page.get_by_role("button", name="■ Stop").count() == 0
    page.get_by_role("button", name="Use 2,000 points").click()
    page.wait_for_function("""() => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                      return gd && gd.layout.title && /2,000 of 10,000/.test(gd.layout.title.text); }""",
                           timeout=120000)
    # raw shows every test image; t-SNE clicked after it starts with its own 2,000, not the 10,000 in the address
    page.goto(f"{url}/latent?run=zoo:conv-k16&method=raw", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Latent space").first.wait_for(timeout=90000)
    settle(page, 60000)
    assert "n=10000" in page.url
    page.get_by_role("radio", name="t-SNE").click(force=True)
    settle(page, 60000)
    assert page.get_by_text("This map is a t-SNE of").count() == 0
    page.wait_for_function("""() => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                      return gd && gd.layout.title && /2,000 of 10,000/.test(gd.layout.title.text); }""",
                           timeout=120000)
    assert "n=2000" in page.url
    no_errors(page, "carried address")


def test_a_drawing_stays_when_the_run_changes_and_its_star_is_drawn_above_the_points(server, page):
    url, _ = server
    open_latent(page, f"{url}/latent?run=zoo:conv-k2&method=raw&n=2000")
    page.get_by_text("a drawing (draw it here)").click()
    canvas = page.locator("canvas.aedraw-canvas")
    canvas.wait_for(timeout=60000)
    canvas.scroll_into_view_if_needed()
    stroke(page, canvas.bounding_box(), [(140, 40), (140, 240)])  # a 1
    page.get_by_text(re.compile(r"prepared like MNIST \(28×28, centred\) · its reconstruction")).first.wait_for(timeout=60000)
    settle(page, 60000)
    star = page.evaluate("""() => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                    const d = gd._fullData[gd._fullData.length - 1];
                                    return [d.type, d.name, d.marker.size, d.marker.line.width]; }""")
    assert star[:2] == ["scattergl", "your digit"] and star[2] >= 20 and star[3] >= 2, star  # last: above every point
    choose(page, "Model run", "zoo · conv-k16", "[data-testid='stSidebar']")  # another run: a new map is made
    page.get_by_text(re.compile(r"prepared like MNIST \(28×28, centred\) · its reconstruction")).first.wait_for(timeout=90000)
    settle(page, 90000)
    assert page.get_by_role("radio", name="a drawing (draw it here)").is_checked()  # not back to "upload"
    assert canvas.get_attribute("data-strokes") == "1"  # and the drawing is still there
    page.get_by_text("its code: 16 numbers").first.wait_for(timeout=30000)
    no_errors(page, "drawing across runs")


def test_a_tab_loads_plotlys_code_while_idle_once_and_its_first_chart_uses_it(server, page):
    """The first chart a tab opens does not wait for plotly's 4.7 MB of code: a page without charts (Train, no run
    yet) loads it once its first run has ended and the tab is idle (not while the first page is still coming), and
    the Latent space map drawn after uses that copy (fetched once)."""
    url, _ = server
    plotly = "performance.getEntriesByType('resource').filter(e => e.name.includes('/static/js/PlotlyChart.'))"
    fetched = f"() => {plotly}.length"
    # when Streamlit marks the first run as ended (it sets window.prerenderReady from false to true then)
    page.add_init_script("""(() => { let v; Object.defineProperty(window, 'prerenderReady', {configurable: true,
        get: () => v, set: x => { if (x === true && v === false) window.__firstRunEnded = performance.now(); v = x; }}); })()""")
    page.goto(f"{url}/train", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=90000)
    settle(page, 90000)
    assert page.locator("[data-testid='stPlotlyChart']").count() == 0  # nothing on this page needs plotly yet
    page.wait_for_function(f"({fetched})() === 1", timeout=30000)  # loaded while idle
    ended, asked = page.evaluate(f"() => [window.__firstRunEnded, {plotly}[0].startTime]")
    assert ended is not None and asked >= ended, (ended, asked)  # after the first page, never during it
    page.get_by_role("link", name="Latent space").click()
    page.get_by_role("heading", name="Latent space").first.wait_for(timeout=90000)
    page.locator("[data-testid='stPlotlyChart'] .main-svg").first.wait_for(timeout=90000)  # the map is drawn
    assert page.evaluate(fetched) == 1  # with the copy loaded before, not a second one
    no_errors(page, "latent after plotly was loaded while idle")
