"""Lessons: every shipped lesson file is valid and each of its steps opens its page in its state; bad files are explained."""

import pytest

from conftest import ROOT, ready_app_test

from aecore.classroom.lessons import LessonError, parse_lesson
from aecore.classroom.lessons import load_lessons
from app_pages.kit.classroom import LESSONS_DIR, PAGE_FILES, SPECS

SHIPPED = {"linear-vs-conv", "latent-size", "latent-plane", "denoising", "ae-vs-pca", "features-classification",
           "one-digit-anomalies", "stacked-ae"}
BOUND = {"tab", "ab_preset", "sweep_model", "sweep_range"}
TITLES = {"home": "AE Lab", "train": "Train an autoencoder", "reconstructions": "Reconstructions",
          "latent": "Latent space", "denoising": "Denoising", "experiments": "Experiments"}
GOOD = '''
title = "T"
summary = "S"
[[step]]
title = "One"
page = "latent"
params = { run = "zoo:conv-k2", method = "raw" }
hide = ["sidebar", "projection"]
text = "Look."
'''


def test_every_shipped_lesson_loads_in_order():
    found, problems = load_lessons(LESSONS_DIR, SPECS)
    assert problems == []
    assert {lesson.name for lesson in found} == SHIPPED
    assert [lesson.name for lesson in found][:3] == ["linear-vs-conv", "latent-size", "latent-plane"]
    for lesson in found:
        assert len(lesson.steps) >= 3 and lesson.summary and all(s.text for s in lesson.steps)
        assert any(s.question for s in lesson.steps)


def test_a_good_lesson_parses():
    lesson = parse_lesson(GOOD, "mine", SPECS)
    assert lesson.title == "T" and lesson.steps[0].params == {"run": "zoo:conv-k2", "method": "raw"}
    assert lesson.steps[0].hide == ("sidebar", "projection")


@pytest.mark.parametrize("change, message", [
    (('page = "latent"', 'page = "latnet"'), "step 1 ('One'): unknown page 'latnet'; pages are: denoising, experiments"),
    (('method = "raw"', 'shade = "red"'),
     "the latent page does not read 'shade'; it reads: colour, images, method, n, pick, run, seed, size, view"),
    (('"projection"]', '"projektion"]'), "the latent page has no control 'projektion'; it can hide:"),
    (('title = "T"', 'title = "T'), "not valid TOML"),
    (('text = "Look."', ''), "step 1 ('One'): 'text' is missing or empty"),
    (('title = "T"', 'title = "T"\ncolour = 1'), "unknown key(s) 'colour'"),
    (('hide = ["sidebar", "projection"]', 'hide = "sidebar"'), "'hide' must be a list of control names"),
    (('[[step]]', '[[stepp]]'), "unknown key(s) 'stepp'"),
])
def test_a_mistake_in_a_lesson_file_says_what_and_where(change, message):
    with pytest.raises(LessonError) as e:
        parse_lesson(GOOD.replace(*change), "mine", SPECS)
    assert message in str(e.value)


def test_bad_names_sizes_and_files_are_refused_and_do_not_hide_the_good_ones(tmp_path):
    with pytest.raises(LessonError, match="lower-case letters"):
        parse_lesson(GOOD, "../etc", SPECS)
    with pytest.raises(LessonError, match="over 64 KB"):
        parse_lesson(GOOD + "#" * 70000, "big", SPECS)
    with pytest.raises(LessonError, match="no steps"):
        parse_lesson('title = "T"\nsummary = "S"\n', "empty", SPECS)
    (tmp_path / "good.toml").write_text(GOOD)
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00bad")
    found, problems = load_lessons(tmp_path, SPECS)
    assert [lesson.name for lesson in found] == ["good"] and "not UTF-8" in problems[0]


# What a student may have left on each page before a lesson starts: settings other than the ones lessons use
LEFTOVERS = {"latent": {"run": "zoo:conv-k16", "method": "pca", "view": "3-D", "colour": "error", "images": "all"},
             "reconstructions": {"run": "zoo:conv-k2", "mode": "worst"},
             "denoising": {"run": "zoo:conv-k2", "noise": "gaussian", "level": "0.9"},
             "experiments": {"run": "zoo:conv-k2", "tab": "Your images"}}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_step_of_a_lesson_opens_its_page_in_its_state(name):
    """Each step opens its page with its settings, even after the student changed that page's settings before the
    lesson (issue 27 item 12: a step kept the leftovers)."""
    found = {lesson.name: lesson for lesson in load_lessons(LESSONS_DIR, SPECS)[0]}
    lesson = found[name]
    at = ready_app_test(ROOT / "app.py", 180)
    for page in sorted({step.page for step in lesson.steps} & LEFTOVERS.keys()):
        at.query_params.clear()
        at.query_params.update(LEFTOVERS[page])
        at.switch_page(PAGE_FILES[page]).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    for i, step in enumerate(lesson.steps):
        at.query_params.clear()
        at.query_params.update({"lesson": name, "step": str(i + 1)} | step.params)
        at.switch_page(PAGE_FILES[step.page]).run()
        assert not at.exception, (name, i + 1, [e.value for e in at.exception])
        assert not at.error, (name, i + 1, [e.value for e in at.error])
        assert at.title and at.title[-1].value == TITLES[step.page], (name, i + 1)  # the step's own page
        assert any(m.value == f"### {step.title}" for m in at.markdown), (name, i + 1)  # under the lesson's box
        for k, v in step.params.items():  # widgets bound to the address drop their parameter at its default
            assert at.query_params.get(k) in ((v, [v], None) if k in BOUND else (v, [v])), (name, i + 1, k)


def test_every_control_a_link_can_hide_is_a_widget_key_of_its_page():
    """Guards renames: ?hide=name works only while the page still draws a widget with that key."""
    import re

    from app_pages.kit.classroom import CONTROLS

    for page, controls in CONTROLS.items():
        source = (ROOT / PAGE_FILES[page]).read_text() + "".join(
            p.read_text() for p in (ROOT / "app_pages" / "kit").glob("*.py"))
        keys = set(re.findall(r'key=f?"([A-Za-z0-9_]+)', source))
        for name, patterns in controls.items():
            for pattern in patterns:
                key = pattern.split(" ")[0]
                ok = any(k.startswith(key[:-1]) for k in keys) if key.endswith("*") else key in keys
                assert ok, f"{page}: control {name!r} hides key {key!r}, which the page no longer has"


def test_a_lesson_step_sets_every_setting_it_depends_on_after_a_session_changed_them(tmp_path):
    """A student trained on an imported set with another model and batch 16; each lesson step on the Train page then
    shows exactly the step's settings (MNIST, its model, its batch), not the leftovers."""
    import numpy as np

    from aecore.data import imported
    from aecore.data.shapes import make_shapes

    x, y, names = make_shapes(3, 20, 28, seed=0)
    np.savez(tmp_path / "left.npz", x=x, y=y, class_names=np.array(names))
    imported.add(tmp_path / "left.npz", "leftover-shapes", replace=True)
    try:
        found = {lesson.name: lesson for lesson in load_lessons(LESSONS_DIR, SPECS)[0]}
        at = ready_app_test(ROOT / "app.py", 180)
        at.run()
        at.switch_page("app_pages/train.py").run()
        at.selectbox(key="dataset").set_value("leftover-shapes").run()
        at.selectbox(key="model").set_value("conv").run()
        at.number_input(key="batch_leftover-shapes").set_value(16).run()
        at.number_input(key="epochs").set_value(7).run()
        assert not at.exception
        walked = 0
        for lesson in found.values():
            for i, step in enumerate(lesson.steps):
                if step.page != "train":
                    continue
                at.query_params.clear()
                at.query_params.update({"lesson": lesson.name, "step": str(i + 1)} | step.params)
                at.run()
                assert not at.exception, (lesson.name, i)
                p = step.params
                assert at.selectbox(key="dataset").value == "mnist", (lesson.name, i)
                assert at.selectbox(key="model").value == p["model"], (lesson.name, i)
                assert at.number_input(key="batch_mnist").value == int(p["batch"]), (lesson.name, i)
                assert at.number_input(key="epochs").value == int(p["epochs"]), (lesson.name, i)
                assert len(at.multiselect(key="digits").value) == 10, (lesson.name, i)
                walked += 1
        assert walked >= 4
    finally:
        imported.remove("leftover-shapes")
