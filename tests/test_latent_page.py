"""The Latent space page's options through Streamlit's AppTest: 3-D view, colour by a field, find, isolate."""

from conftest import ROOT, ready_app_test


def latent(**query):
    at = ready_app_test(ROOT / "app.py", 120)
    at.query_params.update(query)
    at.run()
    at.switch_page("app_pages/latent.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def spec(at) -> str:
    return at.get("plotly_chart")[0].proto.spec.replace(" ", "")


def test_3d_view_and_colour_by_error():
    at = latent(run="zoo:conv-k16", method="pca", view="3-D", n="1000", pick="box")
    assert at.query_params.get("pick") is None  # a 3-D chart picks by click: the address does not say otherwise
    s = spec(at)
    assert '"type":"scatter3d"' in s and "PC3" in s and "3-D" in s
    assert "1,000of10,000testimages:arandomsample,seed0" in s  # (it said "a random sample of 10,000")
    at.selectbox(key="colour_by").set_value("error").run()
    at.selectbox(key="size_by").set_value("error").run()
    assert not at.exception
    s = spec(at)
    assert "error(MSE)" in s and "#440154" in s  # the error as a colour scale (viridis)


def test_a_two_number_code_in_3d_says_why_the_map_is_flat():
    at = latent(run="zoo:conv-k2", method="raw", view="3-D", n="500")
    info = " ".join(i.value for i in at.info)
    assert "only 2 numbers" in info and "at 0 on the axis it does not have" in info and "a flat plane" in info
    assert "z3(none:0)" in spec(at)  # the missing axis is named as such on the chart
    at.radio(key="method").set_value("pca").run()
    assert "PCA in 3-D puts every image at 0" in " ".join(i.value for i in at.info)
    at.radio(key="method").set_value("tsne").run()  # a layout of its own over three axes: nothing to explain
    assert not at.exception and "only 2 numbers" not in " ".join(i.value for i in at.info)


def test_find_a_digit_then_isolate_it():
    at = latent(run="zoo:conv-k2", method="raw", n="500")
    at.text_input(key="find").set_value("digit 7").run()
    assert not at.exception
    cap = next(c.value for c in at.caption if " selected · per digit:" in c.value)
    n = int(cap.split()[0])
    assert n > 10 and cap.endswith(f"7: {n}")  # only sevens, all counted
    assert f"selected({n})" in spec(at)  # ringed on the map
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Selected points per digit" in titles and "the selection against all points shown" in titles
    next(b for b in at.button if b.key == "isolate").click().run()
    assert not at.exception
    assert any(f"Showing only the {n} selected images" in i.value for i in at.info)
    assert "theselection,projectedonitsown" in spec(at) and f"{n}of10,000" in spec(at).replace(" ", "")
    next(b for b in at.button if b.key == "unisolate").click().run()
    assert not at.exception and "500of10,000" in spec(at)


def test_all_70000_images_are_offered_and_stated():
    at = latent(run="zoo:conv-k2", method="raw", images="all", n="3000")
    s = spec(at)
    assert "3,000of70,000images(training+test)" in s
    at.selectbox(key="colour_by").set_value("trained").run()
    assert not at.exception
    assert "trainedon" in spec(at) and "testimage(nevertrainedon)" in spec(at)


def test_the_address_holds_the_settings_while_the_page_waits_for_a_projection(monkeypatch):
    """The page's settings go to the address together at the end of a run (url.sync); a run that stops to wait for
    a worker's result sends them too, so a reload or a shared link while t-SNE runs opens the same view."""
    from streamlit.testing.v1 import AppTest

    from app_pages.kit import background

    asked = []
    real = background.background_experiment

    def waiting(kind, params, *args, **kwargs):  # the layout is queued and has no first frame yet
        if kind == "projection" and params.get("method") == "tsne":
            asked.append(params)
            return None
        return real(kind, params, *args, **kwargs)

    monkeypatch.setattr(background, "background_experiment", waiting)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(run="zoo:conv-k16", method="pca", n="1000")
    at.run()
    at.switch_page("app_pages/latent.py").run()
    at.radio(key="method").set_value("tsne").run()
    assert not at.exception
    assert asked and not at.get("plotly_chart")  # the page stopped to wait for the layout: no map yet
    q = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert q["method"] == "tsne" and q["run"] == "zoo:conv-k16" and q["view"] == "2-D" and q["n"] == "2000"


def test_a_selection_is_in_the_address_so_a_reload_or_a_link_shows_it():
    def sel(at):
        v = at.query_params.get("sel")
        return v[0] if isinstance(v, list) else v

    def selected(at) -> list[str]:
        return [c.value for c in at.caption if " selected · per digit:" in c.value]

    at = latent(run="zoo:conv-k2", method="raw", n="10000")  # every test image: 17 and 42 are on the map
    assert not sel(at) and not selected(at)
    at.text_input(key="find").set_value("17, 42").run()
    assert [c.split(" ")[0] for c in selected(at)] == ["2"], selected(at)
    assert sel(at) == "17,42"
    again = latent(run="zoo:conv-k2", method="raw", n="10000", sel="17,42")  # a reload, or the link shared
    assert [c.split(" ")[0] for c in selected(again)] == ["2"] and sel(again) == "17,42"
    next(b for b in again.button if b.key == "clear_selection").click().run()
    assert sel(again) is None and not selected(again)  # nothing selected: no sel= in the address
    bad = latent(run="zoo:conv-k2", method="raw", n="10000", sel="<b>x</b>")
    assert any("The address's selection: write test image numbers" in w.value for w in bad.warning)
    assert not selected(bad)
    big = latent(run="zoo:conv-k2", method="raw", n="10000")
    big.text_input(key="find").set_value("digit 1").run()  # more than fit in an address: for the session only
    assert int(selected(big)[0].split(" ")[0]) > 200 and sel(big) is None


def test_a_selection_fades_the_rest_and_a_large_one_is_not_a_block_of_rings():
    """A box over a dense cluster used to draw a ring per point: a solid black block hiding the digits. Now the rest
    fades and the selected keep their colour; only a small selection is ringed (a large one's rings are a legend
    click away), and each digit keeps one legend entry."""
    import base64
    import json

    import numpy as np

    def traces(at):
        return json.loads(at.get("plotly_chart")[0].proto.spec)["data"]

    def points(t) -> int:  # plotly sends a number array as base64 with its dtype (and its shape: a row a point)
        data = t["customdata"]
        if not isinstance(data, dict):
            return len(data)
        return len(base64.b64decode(data["bdata"])) // np.dtype(data["dtype"]).itemsize // int(data["shape"].split(",")[1])

    at = latent(run="zoo:conv-k2", method="raw", n="10000")
    assert {t["marker"]["opacity"] for t in traces(at)} == {0.75}  # nothing selected: nothing faded
    # each point's numbers and one hover template a trace: a line of text a point made this map 933 KB to send
    assert len(at.get("plotly_chart")[0].proto.spec) < 450_000 and "text" not in traces(at)[0]
    at.text_input(key="find").set_value("17, 42").run()
    ring = next(t for t in traces(at) if t["name"] == "selected (2)")
    assert ring.get("visible", True) is True and ring["marker"]["symbol"] == "circle-open"
    at.text_input(key="find").set_value("digit 1").run()
    data = traces(at)
    ring = next(t for t in data if t["name"].startswith("selected ("))
    n = int(ring["name"][len("selected ("):-1])
    assert n > 1000 and ring["visible"] == "legendonly"  # its rings only when asked for
    ones = [t for t in data if t["name"] == "1"]
    assert [t["marker"]["opacity"] for t in ones] == [0.75] and points(ones[0]) == n  # all the 1s, bright
    others = [t for t in data if t["name"] in [str(d) for d in range(10) if d != 1]]
    assert len(others) == 9 and {t["marker"]["opacity"] for t in others} == {0.15}  # the rest faded
    assert sum(t.get("showlegend", True) for t in data if t["name"] in [str(d) for d in range(10)]) == 10
    at.selectbox(key="colour_by").set_value("error").run()  # one colour scale over faded and selected points
    scale = [t for t in traces(at) if t["name"] == "error"]
    assert sorted(t["marker"]["opacity"] for t in scale) == [0.15, 0.75]
    assert len({(t["marker"]["cmin"], t["marker"]["cmax"]) for t in scale}) == 1
    assert [t["marker"].get("showscale", True) for t in scale].count(True) == 1
