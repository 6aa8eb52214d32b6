"""Teaching in a real browser: walk a lesson from its first step to its last, links that hide controls, presenter mode."""

from browser_kit import ERRORS, SHOTS, settle
from playwright.sync_api import expect


def box(page):
    return page.locator(".st-key-lesson_box")


def at_step(page, n: int, of: int, title: str, heading: str):
    """The lesson box says step n of `of` with this title, above the page with this heading, and nothing failed."""
    box(page).get_by_text(f"step {n} of {of}").wait_for(timeout=90000)
    page.get_by_role("heading", name=heading).first.wait_for(timeout=90000)
    settle(page, 90000)
    assert box(page).get_by_role("heading", name=title).is_visible()
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    assert f"step={n}" in page.url and "lesson=latent-plane" in page.url  # each step has its own address


def test_walk_the_latent_plane_lesson_from_first_to_last_step(server, page):
    url, _ = server
    page.goto(f"{url}/lessons", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Lessons").wait_for(timeout=90000)
    settle(page)
    page.locator(".st-key-lesson_latent-plane").get_by_role("link", name="Start").click()
    at_step(page, 1, 4, "Every test image is a dot", "Latent space")
    assert "run=zoo%3Aconv-k2" in page.url or "run=zoo:conv-k2" in page.url
    assert page.get_by_text("Question for the class").first.is_visible()
    assert not page.locator(".st-key-method").is_visible()  # the step hides the projection choice
    page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=90000)  # the 2-D map (once projected)
    settle(page)
    page.screenshot(path=str(SHOTS / "lesson-step1.png"), full_page=True)

    box(page).get_by_role("link", name="Next").click()
    at_step(page, 2, 4, "Only some digits", "Latent space")
    box(page).get_by_role("link", name="Next").click()
    at_step(page, 3, 4, "Walk the plane", "Latent space")
    page.reload()  # the address alone brings the step back
    at_step(page, 3, 4, "Walk the plane", "Latent space")
    box(page).get_by_role("link", name="Next").click()
    at_step(page, 4, 4, "Watch the plane form", "Train an autoencoder")
    assert page.get_by_label("Latent size k", exact=True).input_value() == "2"  # the step's settings
    assert not page.locator(".st-key-optimizer").is_visible() and page.locator(".st-key-epochs").is_visible()
    page.screenshot(path=str(SHOTS / "lesson-step4.png"), full_page=True)

    box(page).get_by_role("link", name="Back").click()
    at_step(page, 3, 4, "Walk the plane", "Latent space")
    box(page).get_by_role("link", name="Next").click()
    at_step(page, 4, 4, "Watch the plane form", "Train an autoencoder")
    box(page).get_by_role("link", name="Finish").click()
    page.get_by_role("heading", name="Lessons").wait_for(timeout=60000)
    assert "lesson=" not in page.url


def test_a_link_hides_chosen_controls_and_presenter_mode_shows_just_the_picture(server, page):
    url, _ = server
    page.goto(f"{url}/denoising?run=zoo:conv-k16-denoise&hide=sidebar,corruption,seed", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Denoising").wait_for(timeout=90000)
    settle(page, 90000)
    page.screenshot(path=str(SHOTS / "lesson-hide-sidebar.png"), full_page=True)
    assert page.locator("[data-testid='stSidebar']").count() == 0  # never drawn, not drawn and then covered
    main = page.locator("[data-testid='stMain']")
    assert main.locator(".st-key-run").is_visible()  # the run picker moves onto the page (not hidden by this link)
    assert not page.locator(".st-key-noise").is_visible() and not page.locator(".st-key-noise_seed").is_visible()
    assert page.locator("[class*='st-key-level_']").first.is_visible()  # not hidden: the level slider
    assert page.locator(ERRORS).count() == 0

    page.goto(f"{url}/latent?lesson=latent-plane&step=1&run=zoo:conv-k2&method=raw&present=1", wait_until="domcontentloaded")
    box(page).get_by_text("step 1 of 4").wait_for(timeout=90000)
    settle(page, 90000)
    page.screenshot(path=str(SHOTS / "lesson-presenter.png"), full_page=True)
    size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert size >= 20  # large type (16 px normally)
    assert page.locator("[data-testid='stSidebar']").count() == 0
    assert page.locator("[data-testid='stSlider']:visible, [data-testid='stRadio']:visible").count() == 0  # no controls
    page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=90000)  # just the picture
    assert page.get_by_role("heading", name="Your own digit").count() == 0  # no heading left over its hidden controls
    page.get_by_text("Click a point on the map to see it here.").wait_for()  # not "pick box or lasso above": hidden
    assert page.get_by_text("“box” or “lasso” above").count() == 0
    assert box(page).get_by_role("link", name="Next").is_visible()  # the teacher still moves on
    page.get_by_role("link", name="Leave presenter mode").click()
    page.locator("[data-testid='stSidebar']").wait_for(state="visible", timeout=60000)
    page.wait_for_timeout(1500)  # a run cut short by the click must not put the old address back afterwards
    assert "present=" not in page.url


def test_watch_it_learn_live_then_replay_with_the_slider_and_play(server, page):
    url, _ = server
    # long enough (4 epochs of 2,700 images, ~170 steps) that the page's 2 s poll sees it running on a fast machine
    page.goto(f"{url}/train?model=conv&latent=2&epochs=4&limit=3000&batch=64", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=90000)
    settle(page)
    page.get_by_role("button", name="▶ Train").click()
    # while it trains: the codes of 500 test images move beside the loss curve
    page.get_by_text("500 test images, its 2 code numbers").first.wait_for(timeout=90000)
    page.screenshot(path=str(SHOTS / "watch-live.png"), full_page=True)
    # after the run: the replay, at its last step
    page.get_by_text("Replay the training of").wait_for(timeout=120000)
    settle(page)
    last = page.get_by_text("originals / reconstructions at step").last.inner_text()
    assert int(last.rsplit(" ", 1)[1].replace(",", "")) >= 4 * 42  # 4 epochs of 2,700 training images, 64 a step
    page.get_by_role("button", name="Play").click()
    page.get_by_role("button", name="Pause").wait_for(timeout=30000)  # playing from step 0
    caption = page.get_by_text("originals / reconstructions at step").last
    expect(caption).not_to_have_text(last, timeout=30000)  # the replay moves away from the last step
    page.screenshot(path=str(SHOTS / "watch-replay.png"), full_page=True)
    page.get_by_role("button", name="Pause").click()  # stops where it is: back to the slider, at that step
    page.get_by_role("button", name="Play").wait_for(timeout=60000)
    assert page.locator("[data-testid='stSlider']").last.is_visible()
    assert page.locator(ERRORS).count() == 0
