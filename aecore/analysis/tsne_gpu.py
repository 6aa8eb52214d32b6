"""t-SNE on a GPU with TorchDR, under the same contract as the openTSNE path: a first frame at once, streamed layouts, stop, seed."""

from __future__ import annotations

import importlib.util

import numpy as np

# Most points laid out on the GPU: TorchDR's exact t-SNE keeps about six n x n float32 matrices alive while it
# runs (measured on the CPU: 333 MB extra at 4,000 points), ~20 GB at 30,000 points; beyond that, or when the GPU
# has not that much free, the page's CPU t-SNE (Barnes-Hut) takes over.
GPU_TSNE_MAX = 30000
GPU_TSNE_ITERATIONS = (250, 1750)  # early exaggeration, then the rest: TorchDR's plain momentum SGD needs more
# iterations than openTSNE's (gains): 2,000 MNIST codes keep 0.506 of their 10 nearest neighbours after 2,000,
# 0.491 after 1,000 (openTSNE 0.516 after 500); iterations are cheap on a GPU


def gpu_tsne_bytes(n: int) -> int:
    """GPU memory TorchDR's exact t-SNE of n points needs: six n x n float32 matrices and a fifth more."""
    return int(6 * n * n * 4 * 1.2)


def gpu_tsne_available(device, n: int) -> bool:
    """Whether n points would be laid out on the GPU: a CUDA device with room for them, TorchDR installed,
    n within GPU_TSNE_MAX."""
    import torch

    device = torch.device(device)
    if device.type != "cuda" or n > GPU_TSNE_MAX or importlib.util.find_spec("torchdr") is None:
        return False
    try:
        free, _ = torch.cuda.mem_get_info(device)
    except (RuntimeError, AssertionError):  # no usable CUDA after all
        return False
    return free > gpu_tsne_bytes(n)


class LayoutCallbackError(Exception):
    """The caller's on_layout raised (e.g. the job store): not a GPU failure; the original is its __cause__."""


class _Stopped(Exception):
    """Raised from inside TorchDR's loop when the caller asks to stop: the layout so far is kept."""


def tsne_torchdr(z: np.ndarray, start: np.ndarray, perplexity: float, seed: int, on_layout, every: int,
                 device) -> tuple[np.ndarray, dict]:
    """Lay out codes z [n, k] from `start` [n, dims] (openTSNE's PCA start, std 1e-4) with TorchDR's exact t-SNE.

    `on_layout(xy, done, total)` is called every `every` iterations (not at 0: the caller draws the start)
    and may return True to stop, which returns that layout with info["stopped_at"]; an exception it raises
    comes back as LayoutCallbackError. Returns the layout [n, dims] (float32) and info (iterations,
    backend, and stopped_at when stopped). Nothing here is random (given start, exact neighbours, plain
    SGD): `seed` is not handed to TorchDR, whose seeding would reseed the process's generators and turn
    on cuDNN's benchmark mode for later training in the same worker; the same inputs give the same layout.
    """
    import torch
    from torchdr import TSNE

    early, rest = GPU_TSNE_ITERATIONS
    total = early + rest
    every = max(1, int(every))
    device = torch.device(device)
    stopped: dict = {}

    class StreamingTSNE(TSNE):
        def _set_learning_rate(self):  # openTSNE's "auto" rate, n / exaggeration, in both phases (TorchDR's own,
            # scikit-learn's n / exaggeration / 4, left 2,000 MNIST codes visibly unconverged after 1,000 iterations)
            self.lr_ = max(self.n_samples_in_ / self.early_exaggeration_coeff_, 50)

        def on_training_step_end(self):
            super().on_training_step_end()  # ends early exaggeration at its iteration
            done = int(self.n_iter_) + 1
            if on_layout is not None and done % every == 0 and done < total:
                xy = self.embedding_.detach().float().cpu().numpy().copy()  # [n, dims], not a view
                try:
                    stop = on_layout(xy, done, total)
                except Exception as e:
                    raise LayoutCallbackError(str(e)) from e
                if stop:
                    stopped.update(xy=xy, done=done)
                    raise _Stopped
            return self

    start = np.asarray(start, np.float32)
    # process_duplicates=False: TorchDR would fit the sorted unique rows, and the frames streamed (and the
    # layout kept on Stop) would be in that order, not the points' (repeated codes happen: imported images,
    # dead code units); exact t-SNE handles repeated points as they are
    tsne = StreamingTSNE(perplexity=float(perplexity), n_components=start.shape[1], init=start, init_scaling=1e-4,
                         max_iter=total, early_exaggeration_iter=early, device=str(device), random_state=None,
                         check_interval=every, verbose=False, process_duplicates=False)
    backend = "TorchDR exact t-SNE on " + (torch.cuda.get_device_name(device) if device.type == "cuda" else "the CPU")
    was = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    # TorchDR's sparse affinities add up with scatter/index kernels whose order varies between threads (CPU)
    # or blocks (GPU): the deterministic ones make the same inputs give the same layout
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        xy = tsne.fit_transform(torch.as_tensor(np.asarray(z, np.float32), device=device))  # [n, dims]
        done = int(tsne.n_iter_) + 1  # fewer than total when TorchDR found the gradient vanished
        return xy.detach().float().cpu().numpy().copy(), {"iterations": done, "backend": backend}
    except _Stopped:
        return stopped["xy"], {"iterations": total, "stopped_at": stopped["done"], "backend": backend}
    finally:
        torch.use_deterministic_algorithms(was[0], warn_only=was[1])
        del tsne  # its n x n matrices: give the GPU's memory back to training workers on the same card
        if device.type == "cuda":
            import gc

            gc.collect()
            torch.cuda.empty_cache()
