"""Replicas behind HAProxy (aecore.serving.replicas): the proxy's configuration, the settings' checks, and one set of
workers for the data home however many replicas ask for them."""

import pytest

from aecore.engine import pool
from aecore.serving.replicas import ReplicaError, ServeConfig, proxy_config, streamlit_page


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def test_the_proxy_routes_each_browser_to_one_replica_by_cookie_and_checks_their_health():
    text = proxy_config(ServeConfig(replicas=3, port=8600, address="127.0.0.1"), [9001, 9002, 9003])
    assert "bind 127.0.0.1:8600" in text
    assert "cookie aelab_replica insert indirect nocache" in text  # sticky sessions: the websocket carries it too
    for i, port in enumerate((9001, 9002, 9003), 1):
        assert f"server r{i} 127.0.0.1:{port} check inter 2s cookie r{i}" in text
    assert "option httpchk GET /_stcore/health" in text and "timeout tunnel 1h" in text  # a websocket lives long
    assert "http-request cache-use app_files if { path_beg /static/ }" in text  # the app's files from the cache
    assert "http-response cache-store app_files" in text and "max-object-size 8388608" in text  # plotly's: 4.7 MB


def test_the_proxy_answers_the_apps_pages_with_streamlits_own_page_and_leaves_the_rest_to_the_replicas():
    page = streamlit_page()
    assert page is not None and page.endswith("static/index.html")  # found without importing Streamlit
    text = proxy_config(ServeConfig(replicas=2), [9001, 9002], page)
    rule = next(line for line in text.splitlines() if "http-request return" in line)
    assert f'file "{page}"' in rule and "hdr cache-control no-cache" in rule and "METH_GET" in rule
    # one path segment without a dot (/, /train, /latent?ws=...): not /static/..., /_stcore/..., /media/...,
    # /favicon.png or a trailing slash (Streamlit redirects that one)
    assert "path_reg ^/[A-Za-z0-9_-]*$" in rule and "!{ path /oauth2callback }" in rule
    assert text.index("http-request return") < text.index("server r1")
    # a page's address makes the browser check /train/_stcore/health first: "not found", from HAProxy at once
    probe = next(line for line in text.splitlines() if "return status 404" in line)
    assert "path_reg ^/[A-Za-z0-9_-]+/_stcore/(health|host-config)$" in probe
    assert "return status 200" not in proxy_config(ServeConfig(replicas=2), [9001, 9002])  # no page: replicas serve it


def test_bad_serve_settings_are_refused_with_a_message():
    with pytest.raises(ReplicaError, match="--replicas must be 1..16"):
        ServeConfig(replicas=0)
    with pytest.raises(ReplicaError, match="--port"):
        ServeConfig(port=70000)


def test_replicas_share_the_data_homes_workers(store, settings):
    """Two replicas start workers at once (the second before the first one's have registered): the configured
    workers are started once, not once per replica."""
    settings.view_workers = 1
    earlier = list(pool._children)  # workers other tests' engines started in this process
    mine = []
    try:
        assert pool.ensure_workers(store, settings, idle_exit_s=30) == 2  # one training, one view worker
        mine = [p for p in pool._children if p not in earlier]
        pool._children[:] = []  # another replica: it did not start them and they have not registered yet
        assert pool.ensure_workers(store, settings, idle_exit_s=30) == 0
        assert {pid for pid, _, _ in pool._read_starting(store.home, set())} == {p.pid for p in mine}
    finally:
        for p in mine:  # still importing torch: nothing to finish
            p.kill()
            p.wait()
        pool._children[:] = earlier
