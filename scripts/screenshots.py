"""Screenshots of every page for the README: python scripts/screenshots.py [OUT_DIR]."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from appserver import CHROMIUM, CHROMIUM_FLAGS, ROOT, serve, settle  # noqa: E402

PAGES = [
    ("home", "/home", "AE Lab"),
    ("reconstructions", "/reconstructions?run=zoo:conv-k16&mode=worst", "Reconstructions"),
    ("latent_space", "/latent?run=zoo:conv-k2&method=raw&n=3000", "Latent space"),
    ("latent_space_tsne", "/latent?run=zoo:conv-k16&method=tsne&n=1000", "Latent space"),
    ("denoising", "/denoising?run=zoo:conv-k16-denoise&noise=masking&level=0.5", "Denoising"),
    ("experiments", "/experiments?run=zoo:linear-k32&tab=AE+vs+PCA", "Experiments"),
]


def wait_for_results(page, timeout_s: float = 180) -> None:
    """Until the page's engine jobs (codes, projections, experiments) are done and their results drawn."""
    import time

    end = time.time() + timeout_s
    while time.time() < end:
        busy = page.get_by_text("Waiting: place").count() + page.locator("[data-testid='stProgress']").count()
        if not busy:
            break
        page.wait_for_timeout(1000)
    settle(page, 60000)


def main(out: Path) -> int:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with serve({"AELAB_HOME": tempfile.mkdtemp(prefix="aelab-shots-")}) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        for name, path, heading in PAGES:
            page.goto(url + path, wait_until="networkidle")
            page.get_by_role("heading", name=heading).first.wait_for(timeout=120000)
            settle(page, 180000)
            wait_for_results(page)
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            print(out / f"{name}.png", flush=True)
        # Training live: progress, live loss chart and reconstruction preview, then Stop.
        page.goto(url + "/train?model=conv&latent=16&epochs=30&limit=6000&batch=128&lr=0.003", wait_until="networkidle")
        page.get_by_role("button", name="▶ Train").click()
        page.get_by_text("reconstructions after epoch").first.wait_for(timeout=180000)
        page.wait_for_timeout(4000)
        page.screenshot(path=str(out / "train.png"), full_page=True)
        print(out / "train.png", flush=True)
        page.get_by_role("button", name="■ Stop").first.click()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "screenshots"))
