"""Two replicas behind HAProxy, started as the README says (`./aelab app --replicas 2`, no AELAB_* variable, a fresh
HOME): a browser stays on its replica through reloads and keeps its workspace; a job started through one replica is
seen on every page through the other; the replicas share one set of workers."""

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from browser_kit import SHOTS, need_chromium, no_errors, readme_app, settle, upload_test_digit

COOKIE = "aelab_replica"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    need_chromium()
    from aecore.serving.replicas import ReplicaError, find_proxy

    try:
        find_proxy()
    except ReplicaError:
        import os

        if os.environ.get("CI"):
            pytest.fail("HAProxy is not installed (./aelab test installs it)")
        pytest.skip("HAProxy is not installed")
    with readme_app(tmp_path_factory.mktemp("replicas"), replicas=2) as served:
        yield served


def _replica(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == COOKIE)


def _open(page, url: str, heading: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name=heading).wait_for(timeout=120000)
    settle(page, 90000)


def test_a_class_behind_the_proxy_keeps_its_workspace_and_sees_its_jobs_on_every_replica(proxied, browser):
    url, copy, _ = proxied
    one = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = one.new_page()
    _open(page, f"{url}/train?model=conv&latent=4&epochs=2&batch=64&limit=12000", "Train an autoencoder")
    ws = parse_qs(urlparse(page.url).query)["ws"][0]
    first = _replica(one)
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=60000)
    settle(page)
    assert _replica(one) == first  # sticky: the reload went to the same replica ...
    assert parse_qs(urlparse(page.url).query)["ws"][0] == ws  # ... and kept the workspace
    page.locator("[data-testid='stCheckbox']").filter(has_text="Step by step").locator("label").first.click()
    settle(page)
    page.get_by_role("button", name="▶ Train").click()  # a job that waits, paused after its first step
    page.get_by_text(re.compile(r"paused in epoch 1 of 2 after step 1")).first.wait_for(timeout=120000)
    no_errors(page, "started through one replica")

    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    other.add_cookies([{"name": COOKIE, "value": "r2" if first == "r1" else "r1", "url": url}])  # the other replica
    seen = other.new_page()
    _open(seen, f"{url}/train?ws={ws}", "Train an autoencoder")
    assert _replica(other) != first
    seen.get_by_text(re.compile(r"paused in epoch 1 of 2 after step 1")).first.wait_for(timeout=10000)
    seen.get_by_role("button", name="▶ Go on").first.click()  # it goes on through the other replica ...
    seen.locator("[data-testid='stSidebar']").get_by_text(re.compile(r"conv k=4")).first.wait_for(timeout=10000)
    no_errors(seen, "went on through the other replica")
    for path, heading in (("latent", "Latent space"), ("reconstructions", "Reconstructions")):
        _open(page, f"{url}/{path}?ws={ws}", heading)  # ... and every page of the first one shows it running
        page.locator("[data-testid='stSidebar']").get_by_text(re.compile(r"conv k=4.*epoch")).first.wait_for(
            timeout=10000)
        no_errors(page, f"{path} through the first replica")
    _open(page, f"{url}/train?ws={ws}", "Train an autoencoder")
    page.get_by_text(re.compile(r"conv k=4.* — done")).first.wait_for(timeout=180000)
    assert _replica(one) == first
    _open(seen, f"{url}/reconstructions?ws={ws}", "Reconstructions")  # its run is offered on the other replica
    seen.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    seen.get_by_role("option", name=re.compile(r"yours · .*conv")).first.wait_for(timeout=10000)
    seen.screenshot(path=str(SHOTS / "replicas-other.png"))
    one.close()
    other.close()

    from aecore.engine.store import Store

    workers = Store(copy / ".aelab").live_workers()  # two replicas, one set of workers: one training, one view
    assert len(workers) == 2, [w.id for w in workers]


def test_the_proxy_serves_the_apps_files_from_its_cache_and_its_pages_from_memory(proxied):
    """A class's browsers fetch the same ~60 files (2.3 MB) when they open the app; the replicas serve them once and
    HAProxy's cache the rest (bench/load_test.py --replicas 1: the light clients' files p95 4.5 -> 0.7 s). The page
    itself (Streamlit's index.html, the same for every address) comes from HAProxy's memory, never stale in a
    browser, while the session's own requests (its health check, which sets the XSRF cookie) reach a replica."""
    import urllib.error
    import urllib.request

    from aecore.serving.replicas import streamlit_page

    url = proxied[0]
    opened = urllib.request.urlopen(f"{url}/")
    page = opened.read().decode()
    assert page == Path(streamlit_page()).read_text()  # Streamlit's own page, byte for byte
    assert opened.headers.get("Server") is None and opened.headers.get("Cache-Control") == "no-cache"  # not a replica's
    assert urllib.request.urlopen(f"{url}/latent?ws=abc&method=pca").read().decode() == page  # every page's address
    health = urllib.request.urlopen(f"{url}/_stcore/health")
    assert health.headers.get("Server") == "uvicorn" and "_streamlit_xsrf" in str(health.headers.get_all("Set-Cookie"))
    # opened at /train, the browser first checks /train/_stcore/health (the app lives at /): HAProxy says no at once
    with pytest.raises(urllib.error.HTTPError) as no:
        urllib.request.urlopen(f"{url}/train/_stcore/health")
    assert no.value.code == 404 and no.value.headers.get("Server") is None
    script = re.search(r'src="\./(static/js/[^"]+\.js)"', page).group(1)
    first = urllib.request.urlopen(f"{url}/{script}")
    body = first.read()
    again = urllib.request.urlopen(f"{url}/{script}")
    assert again.read() == body and len(body) > 100_000
    assert again.headers.get("Age") is not None  # served by HAProxy's cache, not by a replica
    assert urllib.request.urlopen(f"{url}/").headers.get("Age") is None  # the page is never a cached copy


def test_an_upload_goes_through_the_proxy(proxied, browser, tmp_path):
    """An upload is checked against Streamlit's XSRF cookie, which a replica sets on the page's health check (the
    page itself now comes from HAProxy): a digit uploaded on Latent space through the proxy is placed on the map."""
    url = proxied[0]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _open(page, f"{url}/latent?run=zoo:conv-k2&method=raw&n=1000", "Latent space")
    assert any(c["name"] == "_streamlit_xsrf" for c in context.cookies())
    upload_test_digit(page, tmp_path)
    page.get_by_text(re.compile("prepared like MNIST")).first.wait_for(timeout=60000)
    settle(page)
    page.get_by_text("★ your digit (more under").wait_for()
    no_errors(page, "an upload through the proxy")
    context.close()
