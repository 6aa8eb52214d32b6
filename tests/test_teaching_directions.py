"""Issue 27 item 11: the Experiments page's comparisons, at the page's own defaults (aecore.analysis.recipes), point
the way their tutorials report. The cheap ones run here, each through the check bench/teaching_defaults.py makes (one
place for each claim); the long ones (the conv and mlp-deep sweeps, ConvTranspose vs Upsample, one digit, the colour
set, the stacked mlp-hinton: 9-67 s each) are the bench's alone."""

import sys
from pathlib import Path

import pytest
import torch

from aecore.analysis import recipes

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import teaching_defaults  # noqa: E402

CHEAP = ["ab:ReLU vs sigmoid output", "ab:MSE vs BCE loss", "ab:linear vs conv", "ae_vs_pca", "classify",
         "stacked:mlp-deep"]  # about 32 s of one thread in all


@pytest.mark.parametrize("name", CHEAP)
def test_the_comparison_at_its_defaults_shows_what_its_tutorial_reports(name, mnist):
    threads = torch.get_num_threads()
    torch.set_num_threads(recipes.THREADS)  # a worker's one thread, as the recipes were measured
    try:
        torch.manual_seed(0)
        out = teaching_defaults.comparisons(mnist, quick=False)[name]()
    finally:
        torch.set_num_threads(threads)
    assert out["check"], (name, out["claim"], out)
