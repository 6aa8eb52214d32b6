"""Your own images in a real browser: upload a zip of photos by class, train on them, see them reconstructed in colour
and classified, and a zip that cannot work says why."""

import io
import re
import shutil
import zipfile
from urllib.parse import parse_qs, urlparse

from PIL import Image

from aecore.data.shapes import write_shapes_folder
from browser_kit import ERRORS, SHOTS, pick_option, settle, upload


def test_upload_a_zip_train_on_it_see_it_in_colour_and_classified(server, page, tmp_path):
    url, _ = server
    folder = write_shapes_folder(tmp_path / "photos", n_classes=4, per_class=30, size=32)
    zipped = shutil.make_archive(str(tmp_path / "my-photos"), "zip", folder)
    with zipfile.ZipFile(tmp_path / "one-class.zip", "w") as z:  # a folder of images with a single class
        for i in range(3):
            buf = io.BytesIO()
            Image.new("RGB", (12, 12), (40 * i, 90, 0)).save(buf, format="PNG")
            z.writestr(f"cats/{i}.png", buf.getvalue())

    page.goto(f"{url}/data", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Data sets").wait_for(timeout=90000)
    settle(page)
    upload(page, tmp_path / "one-class.zip", "cats")
    page.get_by_text("The import did not work: only one class folder").wait_for(timeout=90000)  # says why
    upload(page, zipped, "shapes")
    page.get_by_text("Imported shapes").wait_for(timeout=90000)
    # look at it first (?dataset=shapes is then this page's own value), then its link to Train: Train opened on
    # MNIST, the link's dataset taken for the address's own
    pick_option(page, page.locator("[data-testid='stSelectbox']").filter(has=page.get_by_text("Look at", exact=True)),
                "shapes")
    settle(page)
    page.get_by_role("link", name="Train a model on shapes").first.click()  # to the Train page, on that set

    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=90000)
    settle(page)
    assert page.get_by_text("shapes: 32×32 colour images, 96 for training, 4 classes").is_visible()
    ws = parse_qs(urlparse(page.url).query)["ws"][0]
    page.goto(f"{url}/train?ws={ws}&dataset=shapes&model=conv&latent=8&epochs=6&batch=16", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train an autoencoder").wait_for(timeout=90000)
    settle(page)
    page.get_by_role("button", name="▶ Train").click()
    page.get_by_text("Replay the training of").wait_for(timeout=120000)  # trained and kept
    settle(page)
    assert page.get_by_text(re.compile(r"conv k=8, on shapes.* — done")).first.is_visible()

    # Reconstructions: its own run, in colour, errors by class name
    page.goto(f"{url}/reconstructions?ws={ws}", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Reconstructions").wait_for(timeout=90000)
    settle(page)
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name=re.compile("yours · conv k=8, on shapes")).first.click()
    page.get_by_role("heading", name="Error per class").wait_for(timeout=90000)
    settle(page)
    assert page.get_by_text(re.compile(r"#\d+ · (circle|cross|square|triangle) · 0\.\d{4}")).count() == 10
    page.screenshot(path=str(SHOTS / "own-images-reconstructions.png"), full_page=True)
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()

    # Experiments: a classifier on its code, accuracy per class
    page.goto(f"{url}/experiments?ws={ws}&tab=Your+images", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Classify with a run's encoder").wait_for(timeout=90000)
    settle(page)
    page.locator("[data-testid='stMain'] [data-testid='stSelectbox']").filter(
        has=page.get_by_text("Run", exact=True)).first.click()
    page.get_by_role("option", name=re.compile("yours · conv k=8, on shapes")).first.click()
    settle(page)
    page.get_by_role("button", name="▶ Fine-tune a classifier").click()
    page.get_by_text("Test accuracy per class").wait_for(timeout=120000)
    settle(page)
    chance = page.locator("[data-testid='stMetric']").filter(has_text="Chance")
    assert "25.0%" in chance.inner_text()  # four classes
    ticks = page.locator(".st-key-cls_per_class .xtick text").evaluate_all("els => els.map(e => e.textContent)")  # SVG: one bar a class
    assert sorted(ticks) == ["circle", "cross", "square", "triangle"], ticks
    page.screenshot(path=str(SHOTS / "own-images-classify.png"), full_page=True)
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
