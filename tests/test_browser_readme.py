"""Started exactly as the README says (`./aelab app`, no AELAB_* variable, a fresh HOME): a data set imported on the
Data sets page, or with `python -m aecore data add`, shows on the Data sets and Train pages and trains."""

import re
import shutil
import subprocess
from urllib.parse import parse_qs, urlparse

import pytest

from aecore.data.shapes import write_shapes_folder
from browser_kit import ERRORS, SHOTS, need_chromium, readme_app, settle, upload


@pytest.fixture(scope="module")
def readme(tmp_path_factory):
    need_chromium()
    with readme_app(tmp_path_factory.mktemp("readme")) as served:
        yield served


def _sees_the_set(page, url: str, name: str, n_train: int) -> str:
    """The set is listed and shown on the Data sets page, offered on the Train page; returns the workspace."""
    page.goto(f"{url}/data?dataset={name}", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Data sets").wait_for(timeout=120000)
    settle(page)
    pick = page.locator("[data-testid='stSelectbox']").filter(has=page.get_by_text("Look at", exact=True))
    shown = pick.inner_text() + " ".join(pick.locator("input").evaluate_all("els => els.map(e => e.value)"))
    assert name in shown, shown  # the set is the one shown
    page.get_by_text("One row per class, top to bottom: circle, square, triangle").wait_for()
    assert page.locator("[data-testid='stMetric']").filter(has_text="Training images").inner_text().endswith(f"{n_train}")
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    ws = parse_qs(urlparse(page.url).query)["ws"][0]
    page.goto(f"{url}/train?ws={ws}", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=120000)
    settle(page)
    page.locator("[data-testid='stSelectbox']").filter(has=page.get_by_text("Data set", exact=True)).first.click()
    page.get_by_role("option", name=name, exact=True).click()  # offered on the Train page
    settle(page)
    page.get_by_text(re.compile(rf"{re.escape(name)}: 32×32 colour images, {n_train} for training, 3 classes")).wait_for()
    return ws


def _trains_on(page, url: str, ws: str, name: str) -> None:
    page.goto(f"{url}/train?ws={ws}&dataset={name}&model=conv&latent=4&epochs=2&batch=16", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=120000)
    settle(page)
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text(re.compile(rf"conv k=4, on {re.escape(name)}.* — done")).first.wait_for(timeout=180000)
    settle(page)
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()


def test_a_zip_uploaded_on_the_data_sets_page_shows_on_every_page_and_trains(readme, page, tmp_path):
    url, copy, _ = readme
    folder = write_shapes_folder(tmp_path / "photos", n_classes=3, per_class=30, size=32)
    zipped = shutil.make_archive(str(tmp_path / "three-shapes"), "zip", folder)
    page.goto(f"{url}/data", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Data sets").wait_for(timeout=120000)
    settle(page)
    upload(page, zipped, "three-shapes")
    page.get_by_text("Imported three-shapes").wait_for(timeout=120000)
    assert (copy / ".aelab" / "datasets" / "three-shapes" / "manifest.json").is_file()  # the README's data home
    ws = _sees_the_set(page, url, "three-shapes", 72)
    _trains_on(page, url, ws, "three-shapes")
    page.screenshot(path=str(SHOTS / "readme-upload-trained.png"), full_page=True)


def test_a_set_added_with_the_command_line_shows_in_the_app_and_trains(readme, page, tmp_path):
    url, copy, env = readme
    folder = write_shapes_folder(tmp_path / "photos", n_classes=3, per_class=30, size=32)
    out = subprocess.run([str(copy / ".venv" / "bin" / "python"), "-m", "aecore", "data", "add", str(folder),
                          "--name", "cli-shapes"], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (copy / ".aelab" / "datasets" / "cli-shapes" / "manifest.json").is_file()
    ws = _sees_the_set(page, url, "cli-shapes", 72)
    _trains_on(page, url, ws, "cli-shapes")
