"""The main flow in a real browser: open the app, train a tiny model, see the loss chart and reconstructions."""

import pytest

from browser_kit import SHOTS, need_chromium, serve, settle


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    with serve({"AELAB_HOME": str(tmp_path_factory.mktemp("home"))}) as (url, _):
        yield url


def test_train_tiny_model_in_the_browser(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # A shared deep link as the server's very first request still gets the app's own navigation.
    page.goto(f"{server}/latent?run=zoo:conv-k2&method=raw", wait_until="networkidle")
    page.get_by_role("heading", name="Latent space").wait_for(timeout=60000)
    settle(page)
    nav = page.locator("[data-testid='stSidebar']").inner_text()
    assert "Reconstructions" in nav and "Experiments" in nav and "ui" not in nav.split() and "latent space" not in nav
    assert page.get_by_text("Page not found").count() == 0  # no modal on a cold deep link
    page.goto(server, wait_until="networkidle")
    page.get_by_role("heading", name="AE Lab").wait_for(timeout=60000)
    settle(page)
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)

    page.goto(f"{server}/train?model=dense&latent=4&epochs=2&batch=64&limit=2000", wait_until="networkidle")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=60000)
    page.get_by_role("button", name="▶ Train").click()
    # the finished run shows its loss chart and reconstruction grid under "Your runs"
    page.get_by_text("dense k=4", exact=False).first.wait_for(timeout=120000)
    page.locator("[data-testid='stExpander']").first.wait_for(timeout=120000)
    page.locator("[data-testid='stExpander'] .js-plotly-plot").first.wait_for(timeout=60000)
    page.locator("[data-testid='stExpander'] [data-testid='stImage']").first.wait_for(timeout=60000)
    settle(page)
    page.screenshot(path=str(SHOTS / "train.png"), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
    # the new run is offered in the sidebar's run picker on the other pages (same session: use the nav link)
    page.get_by_role("link", name="Reconstructions").click()
    page.get_by_role("heading", name="Reconstructions").wait_for(timeout=60000)
    page.locator("[data-testid='stImage']").first.wait_for(timeout=60000)
    settle(page)
    page.screenshot(path=str(SHOTS / "reconstructions.png"), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
