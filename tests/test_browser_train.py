"""The Train page in a real browser, as issue 27 found it: layer-wise pretraining trains; every click on a job shows
something within a second and the job's box never disappears; a paused run keeps its name, its address and its
time; the queue and the sidebar say what waits."""

import re
import time

from browser_kit import no_errors, pick_option, settle


def open_train(page, url: str):
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=90000)
    settle(page, 90000)


def set_number(page, label: str, value):
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    settle(page)


def choose(page, label: str, option: str):
    pick_option(page, page.locator("[data-testid='stMain'] [data-testid='stSelectbox']").filter(
        has=page.get_by_text(label, exact=True)).first, re.compile(option))
    settle(page)


def test_layer_wise_pretraining_trains_from_the_page(server, page):
    url, _ = server
    open_train(page, f"{url}/train")
    choose(page, "Model", r"^mlp-deep")
    set_number(page, "Epochs", 1)
    set_number(page, "Training images (0 = all)", 20000)
    set_number(page, "Layer-wise pretraining epochs", 2)
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text(re.compile(r"pretrain layer \d/4")).first.wait_for(timeout=60000)  # each layer pair, named
    page.get_by_text(re.compile(r"mlp-deep k=3, 20,000 images.* — done")).first.wait_for(timeout=180000)
    no_errors(page, "pretraining")


def test_every_click_on_a_job_shows_within_a_second_and_its_box_stays(server, page):
    url, _ = server
    open_train(page, f"{url}/train?model=conv&latent=4&epochs=2&batch=32&limit=4000&dataset=mnist")
    page.locator("[data-testid='stCheckbox']").filter(has_text="Step by step").locator("label").first.click()
    settle(page)
    page.get_by_role("button", name="▶ Train").click()
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text(re.compile(r"conv k=4")).first.wait_for(timeout=3000)  # the sidebar lists it at once
    box = page.locator("[class*='st-key-job_box_']").first
    box.get_by_text(re.compile(r"paused in epoch 1 of 2 after step 1")).first.wait_for(timeout=120000)
    # the sidebar says so too, on every page (issue 27 item 7: a paused job never leaves the screen)
    sidebar.get_by_text(re.compile(r"paused in epoch 1 of 2 after step 1")).first.wait_for(timeout=6000)
    job = box.get_attribute("class")
    timings, done = {}, {}
    for button, expect, after in (("1 step", r"training one step…|Waiting: place", r"after step 2:"),
                                  ("10 steps", r"training ten steps…|Waiting: place", r"after step 12:"),
                                  ("▶ Go on", r"going on…|Waiting: place|train · epoch", r"train · epoch")):
        settle(page)  # the page's own rerun after the pause has drawn (a click during it waits for it)
        # ... and its charts: the first chart on the page loads plotly, which holds the tab's main thread for up to
        # 2 s under load; a click then waits in the browser, not on the server (a person sees the chart come first)
        box.locator("[data-testid='stPlotlyChart'] .main-svg").first.wait_for(timeout=30000)  # the paused codes
        page.wait_for_function(CHARTS_DRAWN, timeout=30000)
        t = time.perf_counter()
        box.get_by_role("button", name=button).click()
        # feedback within a second: what was asked, or already its result (a step is taken in ~0.3 s). A click reruns
        # only the job boxes, not the page (0.2-0.6 s on a quiet machine; a whole Train page's rerun took up to 1.3 s
        # under the suite's load)
        box.get_by_text(re.compile(f"{expect}|{after}")).first.wait_for(timeout=1000)
        timings[button] = time.perf_counter() - t
        end = time.perf_counter() + 60
        while not box.get_by_text(re.compile(after)).count():  # the box stays on screen all along
            assert page.locator(f"[class*='{job.split('st-key-')[1].split()[0]}']").count() == 1, button
            assert time.perf_counter() < end, f"{button}: never got to {after!r}"
            page.wait_for_timeout(100)
        done[button] = time.perf_counter() - t
    # the step is taken by a worker within 0.2 s on a quiet machine and shown by the box's next 1 s refresh (6-7 s in
    # issue 27); with two busy processes beside the suite it took up to 4.2 s
    assert done["1 step"] < 6 and done["10 steps"] < 6, done
    assert max(timings.values()) < 1, timings
    settle(page)
    t = time.perf_counter()
    box.get_by_role("button", name="■ Stop").click()
    box.get_by_text(re.compile(r"stopping|stopped by the user")).first.wait_for(timeout=1000)
    page.get_by_text(re.compile(r"stopped by the user after \d+ epoch")).first.wait_for(timeout=30000)
    stop_s = time.perf_counter() - t
    assert stop_s < 4, stop_s  # honoured by the worker within 0.1 s, shown at the box's next refresh
    no_errors(page, "stepping")


def test_a_paused_run_keeps_its_name_its_address_and_its_time(server, page):
    url, _ = server
    open_train(page, f"{url}/train?model=dense&latent=4&epochs=3&batch=20&limit=3000&dataset=mnist")
    page.get_by_label("Name of the run").fill("paused demo")
    page.get_by_label("Name of the run").press("Enter")
    page.locator("[data-testid='stCheckbox']").filter(has_text="Step by step").locator("label").first.click()
    settle(page)
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text(re.compile(r"paused in epoch 1 of 3 after step 1")).first.wait_for(timeout=120000)
    settle(page)
    runs = page.locator("[data-testid='stExpander']").filter(has_text="paused demo")
    runs.first.wait_for(timeout=30000)
    assert page.get_by_text("No epoch has finished yet").count() == 1  # no empty chart with made-up axes
    page.locator("[class*='st-key-job_box_']").first.get_by_role("button", name="▶ Go on").click()
    page.get_by_text(re.compile(r"paused demo — done")).first.wait_for(timeout=120000)
    settle(page)
    assert page.get_by_text(re.compile(r"paused demo \(2\)")).count() == 0  # one run, under its own name
    assert page.get_by_text(re.compile(r"\d+\.\d s of training")).count() >= 1
    # issue 27 item 18: no button on the page has its label cut short ("↻ Res…", "Down…")
    assert page.get_by_role("button", name="Download").count() >= 1
    assert cut_buttons(page) == []
    assert squeezed_captions(page) == []  # nor a caption squeezed into a column a word or two wide
    no_errors(page, "paused run")


CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'))"""


CUT_BUTTONS = """() => [...document.querySelectorAll("[data-testid='stMain'] button")]
    .filter(b => b.offsetParent !== null && b.innerText.trim())
    .filter(b => [b, ...b.querySelectorAll('*')].some(e => {
        const css = getComputedStyle(e);
        return e.scrollWidth > e.clientWidth + 1 && (css.overflow !== 'visible' || css.textOverflow === 'ellipsis'); }))
    .map(b => b.innerText.trim())"""


SQUEEZED_CAPTIONS = """() => [...document.querySelectorAll("[data-testid='stMain'] [data-testid='stCaptionContainer']")]
    .filter(c => c.offsetParent !== null && c.innerText.trim().split(/\\s+/).length >= 4)
    .filter(c => c.getBoundingClientRect().width < 160)
    .map(c => c.innerText.trim().slice(0, 60))"""


def squeezed_captions(page) -> list[str]:
    """Captions of four words or more drawn in a column under 160 px wide (one or two words a line)."""
    return page.evaluate(SQUEEZED_CAPTIONS)


def cut_buttons(page) -> list[str]:
    """The labels of the buttons on the page whose text does not fit (clipped or ellipsed)."""
    return page.evaluate(CUT_BUTTONS)
