"""Latent space in a real browser: the 3-D switch draws a 3-D chart; a digit drawn on the page gets its reconstruction,
code and stars. (Click, box and lasso selections and their linked views: test_browser_flows.py.)"""

import re

from browser_kit import SHOTS, no_errors, settle, stroke


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


def test_switch_to_3d_draws_a_3d_chart(server, page):
    url, _ = server
    open_latent(page, f"{url}/latent?run=zoo:conv-k16&method=pca&n=2000")
    page.get_by_role("radio", name="3-D").click(force=True)
    settle(page, 90000)
    page.wait_for_function("""() => { const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                      return gd && gd._fullData && gd._fullData.length && gd._fullData[0].type === 'scatter3d'; }""",
                           timeout=90000)
    assert page.locator("[data-testid='stPlotlyChart'] .gl-container canvas, [data-testid='stPlotlyChart'] canvas").count() >= 1
    assert page.get_by_text("3-D: drag to rotate").count() == 1
    assert {t for t, _ in chart_traces(page)} == {"scatter3d"}
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
