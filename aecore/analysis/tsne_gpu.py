"""Latent maps on a GPU: our exact t-SNE and a UMAP in torch (a Triton kernel for t-SNE's all-pairs repulsion), and
TorchDR's t-SNE, each under the openTSNE path's contract: a first frame at once, streamed layouts, stop, same seed same
layout, 3-D, repeated codes kept in their places."""

from __future__ import annotations

import importlib.util
import math

import numpy as np

# ---- which maps the GPU makes ----------------------------------------------------------------------------------
# Our exact t-SNE (tsne_exact): exact affinities (all distances by matrix products, exact k nearest neighbours), the
# attraction over those neighbours, and the repulsion between all n^2 pairs every iteration (a Triton kernel on CUDA:
# 70,000^2 pair terms are a few milliseconds on an H200), with openTSNE's optimiser (momentum 0.8, gains, step norm
# at most 5, learning rate n / exaggeration, early exaggeration 12). It makes the map where CUDA is present for
# GPU_TSNE_MIN..GPU_TSNE_MAX points; below GPU_TSNE_MIN openTSNE on the CPU takes under a second anyway.
# bench/projection_speed.py --device cuda compares it with openTSNE on the same codes: raise GPU_TSNE_MIN to where
# the GPU stops being faster and as good (kept10), as that bench measures it.
GPU_TSNE_MIN = 1000
GPU_TSNE_MAX = 70000  # all of MNIST (aecore.analysis.projection.MAX_POINTS)
EXACT_TSNE_ITERATIONS = (250, 750)  # early exaggeration, then the rest (openTSNE's defaults are 250 + 500)
EARLY_EXAGGERATION = 12.0
REPULSION_BLOCK = (32, 64)  # points per Triton program, and per tile of the others it sums over
REPULSION_WARPS = 4  # 16 pair terms per thread and per sum in flight

# TorchDR's exact t-SNE (the `torchdr` backend; it keeps about six n x n float32 matrices alive)
TORCHDR_MAX = 30000
GPU_TSNE_ITERATIONS = (250, 1750)  # TorchDR's: its plain momentum SGD needs more iterations than openTSNE's gains

# Our UMAP (umap_torch): umap-learn's graph (exact neighbours, smooth k-NN distances, fuzzy union) and its layout
# (attraction along the edges by their weights, 5 negative samples per attraction, clipped steps, linearly decaying
# rate) with every active edge of an epoch applied at once, and a PCA start scaled as umap-learn's.
GPU_UMAP_MIN = 2000  # below it, umap-learn on the CPU (a few seconds); raise it where the bench shows the CPU faster


def _torch_device(device):
    import torch

    return torch.device(device)


def _has_triton() -> bool:
    return importlib.util.find_spec("triton") is not None


def exact_tsne_bytes(n: int, k: int = 300) -> int:
    """GPU memory our exact t-SNE of n points needs at most: a 1 GiB block of distances for the neighbour search
    and the affinity edges (2 n k at most, k = 3 x perplexity <= 300) with their per-iteration work arrays."""
    return 2**30 + 2 * n * k * 64


def _cuda_free(device) -> int:
    """Free memory on a CUDA device in bytes (0 where there is no usable CUDA)."""
    import torch

    device = _torch_device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return 0
    try:
        free, _ = torch.cuda.mem_get_info(device)
    except (RuntimeError, AssertionError):  # no usable CUDA after all
        return 0
    return int(free)


def gpu_tsne_available(device, n: int) -> bool:
    """Whether a t-SNE of n points is laid out on the GPU ("auto"): a CUDA device with room for our exact t-SNE,
    GPU_TSNE_MIN <= n <= GPU_TSNE_MAX, and Triton for the repulsion beyond 10,000 points."""
    device = _torch_device(device)
    if device.type != "cuda" or not GPU_TSNE_MIN <= n <= GPU_TSNE_MAX:
        return False
    if n > 10000 and not _has_triton():
        return False
    return _cuda_free(device) > exact_tsne_bytes(n)


def gpu_tsne_bytes(n: int) -> int:
    """GPU memory TorchDR's exact t-SNE of n points needs: six n x n float32 matrices and a fifth more."""
    return int(6 * n * n * 4 * 1.2)


def torchdr_available(device, n: int) -> bool:
    """Whether TorchDR is installed and `device` has room for its t-SNE of n points (n <= TORCHDR_MAX)."""
    if n > TORCHDR_MAX or importlib.util.find_spec("torchdr") is None:
        return False
    device = _torch_device(device)
    return device.type != "cuda" or _cuda_free(device) > gpu_tsne_bytes(n)


def gpu_umap_available(device, n: int) -> bool:
    """Whether a UMAP of n points is laid out on the GPU ("auto"): CUDA with room, GPU_UMAP_MIN <= n <= 70,000."""
    device = _torch_device(device)
    if device.type != "cuda" or not GPU_UMAP_MIN <= n <= GPU_TSNE_MAX:
        return False
    return _cuda_free(device) > 2**30 + n * 200 * 64


def device_name(device) -> str:
    import torch

    device = _torch_device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "the CPU"


class LayoutCallbackError(Exception):
    """The caller's on_layout raised (e.g. the job store): not a GPU failure; the original is its __cause__."""


class _Stopped(Exception):
    """Raised from inside TorchDR's loop when the caller asks to stop: the layout so far is kept."""


# ---- exact neighbours and affinities ---------------------------------------------------------------------------
def knn(z, k: int, block_bytes: int = 2**30):
    """Exact k nearest neighbours (Euclidean) of every row of z [n, d] among the other rows: indices [n, k] (int64)
    and squared distances [n, k] (float64), nearest first. Rows go in blocks against all of z, one float64 matrix
    product per block (|a|^2 + |b|^2 - 2ab: float64 keeps the order of close neighbours)."""
    import torch

    n = len(z)
    zd = z.double()
    sq = (zd * zd).sum(1)  # [n]
    rows = max(1, min(n, block_bytes // (8 * n)))
    idx = torch.empty((n, k), dtype=torch.long, device=z.device)
    d2 = torch.empty((n, k), dtype=torch.float64, device=z.device)
    for a in range(0, n, rows):
        b = min(n, a + rows)
        block = (sq[a:b, None] + sq[None, :]).sub_(2.0 * (zd[a:b] @ zd.T)).clamp_(min=0.0)  # [b-a, n]
        r = torch.arange(b - a, device=z.device)
        block[r, r + a] = float("inf")  # a point is not its own neighbour (a repeated code is)
        vals, ids = torch.topk(block, k, dim=1, largest=False, sorted=True)
        idx[a:b], d2[a:b] = ids, vals
        del block
    return idx, d2


def perplexity_rows(d2, perplexity: float, steps: int = 64):
    """P(j|i) [n, k] (float64, rows summing to 1) over each point's k neighbours at squared distances d2 [n, k],
    a Gaussian whose width gives each row the entropy log(perplexity), found by bisection on its precision."""
    import torch

    d = d2 - d2[:, :1]  # [n, k] from the nearest: the same P, no underflow
    n = len(d)
    target = math.log(perplexity)
    beta = torch.ones(n, dtype=torch.float64, device=d.device)
    lo = torch.zeros_like(beta)
    hi = torch.full_like(beta, float("inf"))
    for _ in range(steps):
        p = torch.exp(-d * beta[:, None])
        s = p.sum(1)
        entropy = torch.log(s) + beta * (d * p).sum(1) / s
        flat = entropy > target  # too flat: a larger precision
        lo = torch.where(flat, beta, lo)
        hi = torch.where(flat, hi, beta)
        beta = torch.where(torch.isinf(hi), beta * 2.0, (lo + hi) / 2.0)
    p = torch.exp(-d * beta[:, None])
    return p / p.sum(1, keepdim=True)


def _segment_sum(values, lengths):
    """Sums of consecutive runs of `values` [E, ...] of the given lengths [m] -> [m, ...], each run added up in order
    (the same result every time, unlike an atomic scatter-add)."""
    import torch

    return torch.segment_reduce(values, "sum", lengths=lengths, axis=0, unsafe=True)


def joint_affinities(nbr, pcond, n: int):
    """The symmetric joint P = (P(j|i) + P(i|j)) / sum as sparse rows sorted by (i, j): rows [E], cols [E] (int64),
    vals [E] (float64), and each row's length [n]."""
    import torch

    k = nbr.shape[1]
    i = torch.arange(n, device=nbr.device).repeat_interleave(k)  # [n k]
    j = nbr.reshape(-1)
    v = pcond.reshape(-1)
    key, order = torch.sort(torch.cat([i * n + j, j * n + i]), stable=True)
    val = torch.cat([v, v])[order]
    key, counts = torch.unique_consecutive(key, return_counts=True)
    val = _segment_sum(val, counts)  # a mutual pair: both directions in one entry
    val = val / val.sum()
    rows, cols = key // n, key % n
    return rows, cols, val, torch.bincount(rows, minlength=n)


# ---- the all-pairs repulsion -----------------------------------------------------------------------------------
try:  # Triton comes with torch's CUDA builds; where it is missing (or cannot load) the torch version is used
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001 - any failure to load it means: no kernel
    triton = None

if triton is not None:

    @triton.jit
    def _repulsion_2d(Y, F, ZR, n, BI: tl.constexpr, BJ: tl.constexpr):
        """For BI points i: F[i] = sum_j q_ij^2 (y_i - y_j) and ZR[i] = sum_(j != i) q_ij, q_ij = 1 / (1 + |y_i - y_j|^2),
        over all n points in tiles of BJ. The sums stay [BI, BJ] in registers and are reduced once at the end (no
        reduction inside the loop); padding points sit 1e18 away, so their terms vanish and the loop needs no mask."""
        i = tl.program_id(0) * BI + tl.arange(0, BI)
        mi = i < n
        x0 = tl.load(Y + i * 2, mask=mi, other=0.0)[:, None]
        x1 = tl.load(Y + i * 2 + 1, mask=mi, other=0.0)[:, None]
        f0 = tl.zeros([BI, BJ], dtype=tl.float32)
        f1 = tl.zeros([BI, BJ], dtype=tl.float32)
        zs = tl.zeros([BI, BJ], dtype=tl.float32)
        for j0 in range(0, n, BJ):
            j = j0 + tl.arange(0, BJ)
            mj = j < n
            d0 = x0 - tl.load(Y + j * 2, mask=mj, other=1.0e18)[None, :]
            d1 = x1 - tl.load(Y + j * 2 + 1, mask=mj, other=1.0e18)[None, :]
            r = tl.math.rsqrt(1.0 + d0 * d0 + d1 * d1)
            q = r * r
            q2 = q * q
            zs += q
            f0 += q2 * d0
            f1 += q2 * d1
        tl.store(F + i * 2, tl.sum(f0, axis=1), mask=mi)
        tl.store(F + i * 2 + 1, tl.sum(f1, axis=1), mask=mi)
        tl.store(ZR + i, tl.sum(zs, axis=1) - 1.0, mask=mi)  # less its own q_ii = 1

    @triton.jit
    def _repulsion_3d(Y, F, ZR, n, BI: tl.constexpr, BJ: tl.constexpr):
        """_repulsion_2d for points in 3-D."""
        i = tl.program_id(0) * BI + tl.arange(0, BI)
        mi = i < n
        x0 = tl.load(Y + i * 3, mask=mi, other=0.0)[:, None]
        x1 = tl.load(Y + i * 3 + 1, mask=mi, other=0.0)[:, None]
        x2 = tl.load(Y + i * 3 + 2, mask=mi, other=0.0)[:, None]
        f0 = tl.zeros([BI, BJ], dtype=tl.float32)
        f1 = tl.zeros([BI, BJ], dtype=tl.float32)
        f2 = tl.zeros([BI, BJ], dtype=tl.float32)
        zs = tl.zeros([BI, BJ], dtype=tl.float32)
        for j0 in range(0, n, BJ):
            j = j0 + tl.arange(0, BJ)
            mj = j < n
            d0 = x0 - tl.load(Y + j * 3, mask=mj, other=1.0e18)[None, :]
            d1 = x1 - tl.load(Y + j * 3 + 1, mask=mj, other=1.0e18)[None, :]
            d2 = x2 - tl.load(Y + j * 3 + 2, mask=mj, other=1.0e18)[None, :]
            r = tl.math.rsqrt(1.0 + d0 * d0 + d1 * d1 + d2 * d2)
            q = r * r
            q2 = q * q
            zs += q
            f0 += q2 * d0
            f1 += q2 * d1
            f2 += q2 * d2
        tl.store(F + i * 3, tl.sum(f0, axis=1), mask=mi)
        tl.store(F + i * 3 + 1, tl.sum(f1, axis=1), mask=mi)
        tl.store(F + i * 3 + 2, tl.sum(f2, axis=1), mask=mi)
        tl.store(ZR + i, tl.sum(zs, axis=1) - 1.0, mask=mi)


def repulsion_triton(y, block_i: int = REPULSION_BLOCK[0], block_j: int = REPULSION_BLOCK[1]):
    """(F [n, d], ZR [n]) of _repulsion_2d/3d for a contiguous float32 layout y [n, 2 or 3] (on CUDA, or on the CPU
    under Triton's interpreter)."""
    import torch

    n, d = y.shape
    f = torch.empty_like(y)
    zr = torch.empty(n, dtype=y.dtype, device=y.device)
    kernel = _repulsion_2d if d == 2 else _repulsion_3d
    kernel[(triton.cdiv(n, block_i),)](y, f, zr, n, BI=block_i, BJ=block_j, num_warps=REPULSION_WARPS)
    return f, zr


def repulsion_torch(y, block_elems: int = 2**24):
    """The same sums with torch in blocks of rows (each block's pairs held in memory): the CPU's way, and the GPU's
    where Triton is missing."""
    import torch

    n, d = y.shape
    f = torch.empty_like(y)
    zr = torch.empty(n, dtype=y.dtype, device=y.device)
    rows = max(1, min(n, block_elems // (n * d)))
    for a in range(0, n, rows):
        diff = y[a:a + rows, None, :] - y[None, :, :]  # [c, n, d]
        q = 1.0 / (1.0 + (diff * diff).sum(-1))  # [c, n]
        f[a:a + rows] = ((q * q)[..., None] * diff).sum(1)
        zr[a:a + rows] = q.sum(1) - 1.0
    return f, zr


def repulsion(y):
    """(sum_j q_ij^2 (y_i - y_j) [n, d], sum_(j != i) q_ij [n]) for a layout y [n, d]: Triton on CUDA, torch elsewhere."""
    if y.is_cuda and triton is not None:
        return repulsion_triton(y.contiguous())
    return repulsion_torch(y)


# ---- exact t-SNE ---------------------------------------------------------------------------------------------------
def tsne_exact(z: np.ndarray, start: np.ndarray, perplexity: float, seed: int, on_layout, every: int,
               device) -> tuple[np.ndarray, dict]:
    """Lay out codes z [n, k] from `start` [n, dims] (openTSNE's PCA start, std 1e-4) by exact t-SNE on `device`.

    `on_layout(xy, done, total)` is called every `every` iterations (not at 0: the caller draws the start) and may
    return True to stop, which returns that layout with info["stopped_at"]; an exception it raises comes back as
    LayoutCallbackError. Returns the layout [n, dims] (float32) and info: iterations, backend, kl_divergence, and
    "neighbours" (the exact neighbour indices and distances, numpy, for openTSNE's placer: the caller pops them).
    Nothing is random (the start is given, the neighbours exact, every sum in a fixed order): `seed` changes
    nothing, and the same inputs give the same layout on the same device."""
    import torch

    device = _torch_device(device)
    early, normal = EXACT_TSNE_ITERATIONS
    total = early + normal
    every = max(1, int(every))
    was = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)  # the sums in a fixed order, also where torch chooses
    try:
        zt = torch.as_tensor(np.asarray(z, np.float32), device=device)
        n = len(zt)
        k = min(n - 1, int(3 * perplexity))
        nbr, d2 = knn(zt, k)
        rows, cols, pval, deg = joint_affinities(nbr, perplexity_rows(d2, perplexity), n)
        p = pval.float()  # [E]
        y = torch.as_tensor(np.asarray(start, np.float32), device=device).clone()  # [n, dims]
        update = torch.zeros_like(y)
        gains = torch.ones_like(y)
        stopped_at = None
        for it in range(total):
            exaggeration = EARLY_EXAGGERATION if it < early else 1.0
            lr = n / exaggeration  # openTSNE's "auto" learning rate
            diff = y.index_select(0, rows) - y.index_select(0, cols)  # [E, dims]
            w = p / (1.0 + (diff * diff).sum(1))  # [E] p_ij q_ij
            attraction = _segment_sum(diff * w[:, None], deg)  # [n, dims]
            rep, zr = repulsion(y)
            grad = attraction * exaggeration - rep / zr.sum()
            flipped = torch.sign(update) != torch.sign(grad)
            gains = torch.where(flipped, gains + 0.2, gains * 0.8 + 0.01)
            update = 0.8 * update - lr * gains * grad
            norm = update.norm(dim=1, keepdim=True)
            update = torch.where(norm > 5.0, update * (5.0 / norm), update)  # openTSNE's max_step_norm
            y = y + update
            y = y - y.mean(0)
            done = it + 1
            if on_layout is not None and done % every == 0 and done < total:
                xy = y.float().cpu().numpy().copy()  # [n, dims], not a view
                try:
                    stop = on_layout(xy, done, total)
                except Exception as e:
                    raise LayoutCallbackError(str(e)) from e
                if stop:
                    stopped_at = done
                    break
        diff = y.index_select(0, rows) - y.index_select(0, cols)
        q = 1.0 / (1.0 + (diff * diff).sum(1))  # [E]
        zsum = repulsion(y)[1].double().sum()
        kl = float((pval * torch.log(pval / (q.double() / zsum))).sum())
        xy = y.float().cpu().numpy().copy()
        info = {"iterations": total, "backend": f"exact t-SNE (aecore) on {device_name(device)}",
                "kl_divergence": kl}
        if stopped_at is not None:
            info["stopped_at"] = stopped_at
        else:
            info["neighbours"] = (nbr.cpu().numpy(), d2.sqrt().float().cpu().numpy())
        return xy, info
    finally:
        torch.use_deterministic_algorithms(was[0], warn_only=was[1])
        if device.type == "cuda":
            torch.cuda.empty_cache()  # give the memory back to training workers on the same card


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


# ---- UMAP ----------------------------------------------------------------------------------------------------------
def umap_ab(min_dist: float, spread: float = 1.0) -> tuple[float, float]:
    """umap-learn's a and b: the curve 1 / (1 + a d^(2b)) fitted to 1 up to min_dist and exp(-(d - min_dist)) after."""
    from scipy.optimize import curve_fit

    x = np.linspace(0, spread * 3, 300)
    y = np.where(x < min_dist, 1.0, np.exp(-(x - min_dist) / spread))
    (a, b), _ = curve_fit(lambda x, a, b: 1.0 / (1.0 + a * x ** (2 * b)), x, y)
    return float(a), float(b)


def smooth_knn(dist, k: int, steps: int = 64):
    """umap-learn's smooth_knn_dist for distances [n, k] (each point's own first, at 0): rho [n] (the nearest
    positive distance) and sigma [n] with sum_(j >= 1) exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k)."""
    import torch

    target = math.log2(k)
    pos = torch.where(dist > 0, dist, torch.full_like(dist, float("inf")))
    rho = pos.min(1).values
    rho = torch.where(torch.isinf(rho), torch.zeros_like(rho), rho)  # all neighbours at distance 0
    excess = (dist[:, 1:] - rho[:, None]).clamp(min=0.0)  # [n, k-1]
    n = len(dist)
    lo = torch.zeros(n, dtype=dist.dtype, device=dist.device)
    hi = torch.full_like(lo, float("inf"))
    mid = torch.ones_like(lo)
    for _ in range(steps):
        s = torch.exp(-excess / mid[:, None]).sum(1)
        big = s > target
        hi = torch.where(big, mid, hi)
        lo = torch.where(big, lo, mid)
        mid = torch.where(torch.isinf(hi), mid * 2.0, (lo + hi) / 2.0)
    mean_all = dist.mean()
    floor = torch.where(rho > 0, 1e-3 * dist.mean(1), 1e-3 * mean_all)
    return rho, torch.maximum(mid, floor)


def umap_graph(z, n_neighbors: int, n_epochs: int):
    """umap-learn's fuzzy graph of codes z [n, k] (torch): heads, tails (int64, sorted by head, then tail), weights
    (float32), and the exact neighbours (indices [n, n_neighbors - 1], distances) for the placer."""
    import torch

    n = len(z)
    nbr, d2 = knn(z, n_neighbors - 1)
    dist = torch.cat([torch.zeros(n, 1, dtype=d2.dtype, device=z.device), d2.sqrt()], 1)  # [n, k] itself first
    rho, sigma = smooth_knn(dist, n_neighbors)
    w = torch.exp(-((dist[:, 1:] - rho[:, None]).clamp(min=0.0)) / sigma[:, None])  # [n, k-1] memberships
    i = torch.arange(n, device=z.device).repeat_interleave(n_neighbors - 1)
    j = nbr.reshape(-1)
    v = w.reshape(-1)
    key, order = torch.sort(torch.cat([i * n + j, j * n + i]), stable=True)
    val = torch.cat([v, v])[order]
    key, counts = torch.unique_consecutive(key, return_counts=True)
    both = _segment_sum(val, counts)
    prod = torch.segment_reduce(val, "prod", lengths=counts, axis=0, unsafe=True)
    val = torch.where(counts == 2, both - prod, both)  # fuzzy union: a + b - a b
    keep = val >= val.max() / n_epochs  # umap-learn drops what would never be sampled
    key, val = key[keep], val[keep]
    return key // n, key % n, val.float(), (nbr, dist[:, 1:])


def umap_torch(z: np.ndarray, start: np.ndarray, n_neighbors: int, min_dist: float, seed: int, on_layout, every: int,
               device, n_epochs: int) -> tuple[np.ndarray, dict, "KnnPlacer | None"]:
    """Lay out codes z [n, k] from `start` [n, dims] by UMAP on `device`: umap-learn's graph and its epochs of
    attraction and negative sampling, each epoch's steps applied at once (summed per point in a fixed order).

    `on_layout(xy, epoch, n_epochs)` is called every `every` epochs (not at 0) and may return True to stop there
    (info["stopped_at"]); its exceptions come back as LayoutCallbackError. The negative samples come from a
    generator seeded with `seed` on the device: the same seed gives the same layout there. Returns the layout
    [n, dims] (float32), info (iterations, backend) and a placer (None when stopped)."""
    import torch

    device = _torch_device(device)
    was = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        zt = torch.as_tensor(np.asarray(z, np.float32), device=device)
        n = len(zt)
        heads, tails, w, (nbr, ndist) = umap_graph(zt, n_neighbors, n_epochs)
        a, b = umap_ab(min_dist)
        per_sample = (w.max() / w).double()  # [E] epochs between two samples of an edge
        per_negative = per_sample / 5.0  # umap-learn's negative_sample_rate
        next_sample = per_sample.clone()
        next_negative = per_negative.clone()
        head_len = torch.bincount(heads, minlength=n)
        by_tail = torch.sort(tails, stable=True).indices
        tail_len = torch.bincount(tails, minlength=n)
        gen = torch.Generator(device=device).manual_seed(int(seed))
        group = torch.randint(0, UMAP_GROUPS, (len(heads),), generator=gen, device=device)  # [E] which sub-step
        y = torch.as_tensor(np.asarray(start, np.float32), device=device).clone()
        stopped_at = None
        for epoch in range(n_epochs):
            alpha = 1.0 - epoch / n_epochs
            due = next_sample <= epoch  # [E]
            for part in range(UMAP_GROUPS):
                y = _umap_substep(y, heads, tails, due & (group == part), a, b, alpha, per_sample, per_negative,
                                  next_sample, next_negative, head_len, by_tail, tail_len, epoch, gen)
            next_sample = torch.where(due, next_sample + per_sample, next_sample)
            done = epoch + 1
            if on_layout is not None and done % every == 0 and done < n_epochs:
                xy = y.float().cpu().numpy().copy()
                try:
                    stop = on_layout(xy, done, n_epochs)
                except Exception as e:
                    raise LayoutCallbackError(str(e)) from e
                if stop:
                    stopped_at = done
                    break
        xy = y.float().cpu().numpy().copy()
        info = {"iterations": n_epochs, "backend": f"UMAP (aecore) on {device_name(device)}"}
        if stopped_at is not None:
            info["stopped_at"] = stopped_at
            return xy, info, None
        return xy, info, KnnPlacer(np.asarray(z, np.float32), xy, n_neighbors)
    finally:
        torch.use_deterministic_algorithms(was[0], warn_only=was[1])
        if device.type == "cuda":
            torch.cuda.empty_cache()


UMAP_GROUPS = 4  # an epoch's due edges go in this many sub-steps (a fixed random share each): umap-learn moves a
# point after every edge; applying all of an epoch's edges at once overshoots (2,000 MNIST codes kept 0.380 of their 10
# nearest neighbours that way, against umap-learn's 0.397)


def _umap_substep(y, heads, tails, active, a: float, b: float, alpha: float, per_sample, per_negative, next_sample,
                  next_negative, head_len, by_tail, tail_len, epoch: int, gen):
    """One sub-step of a UMAP epoch: the `active` edges' attraction (heads along, tails against) and their negative
    samples' repulsion, from the layout y [n, dims] as it is, summed per point in a fixed order; the new layout.
    Updates next_negative in place (next_sample is the caller's)."""
    import torch

    n = len(y)
    diff = y.index_select(0, heads) - y.index_select(0, tails)  # [E, dims]
    d2 = (diff * diff).sum(1)
    coeff = torch.where(d2 > 0, -2.0 * a * b * d2.clamp(min=1e-12) ** (b - 1.0) / (a * d2 ** b + 1.0),
                        torch.zeros_like(d2))
    g = torch.where(active[:, None], (coeff[:, None] * diff).clamp(-4.0, 4.0), torch.zeros_like(diff)) * alpha
    step = _segment_sum(g, head_len)  # [n, dims] the heads move along their edges
    step -= _segment_sum(g.index_select(0, by_tail), tail_len)  # and the tails against them
    n_neg = torch.where(active, ((epoch - next_negative) / per_negative).floor().clamp(min=0),
                        torch.zeros_like(next_negative)).long()  # [E]
    next_negative += n_neg.double() * per_negative
    neg_heads = heads.repeat_interleave(n_neg)  # [T] sorted by head, as the edges are
    if len(neg_heads):
        others = torch.randint(0, n, (len(neg_heads),), generator=gen, device=y.device)
        nd = y.index_select(0, neg_heads) - y.index_select(0, others)
        nd2 = (nd * nd).sum(1)
        ncoeff = 2.0 * b / ((0.001 + nd2) * (a * nd2 ** b + 1.0))
        ng = torch.where((nd2 > 0)[:, None], (ncoeff[:, None] * nd).clamp(-4.0, 4.0), torch.zeros_like(nd))
        step += _segment_sum(ng * alpha, torch.bincount(neg_heads, minlength=n))
    return y + step


def umap_start(z: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """umap-learn's init="pca" start: the codes' first principal components, scaled to at most 10 with a little
    seeded noise, then to [0, 10] on every axis (as its layout starts)."""
    from sklearn.decomposition import PCA

    z = np.asarray(z, np.float32)
    comps = min(dims, z.shape[1], len(z))
    xy = np.zeros((len(z), dims), np.float32)
    xy[:, :comps] = PCA(n_components=comps, random_state=seed).fit_transform(z)
    rng = np.random.RandomState(seed)
    xy = 10.0 * xy / max(float(np.abs(xy).max()), 1e-12) + rng.normal(scale=1e-4, size=xy.shape)
    lo, hi = xy.min(0), xy.max(0)
    return (10.0 * (xy - lo) / np.maximum(hi - lo, 1e-12)).astype(np.float32)


class KnnPlacer:
    """Places new codes on a UMAP layout as umap-learn's transform starts them: at the mean of their nearest codes'
    places, weighted by UMAP's memberships (smooth k-NN distances of the query). Picklable (kept beside the map)."""

    def __init__(self, z: np.ndarray, xy: np.ndarray, n_neighbors: int):
        self.z = np.asarray(z, np.float32)  # [n, k] the codes of the map
        self.xy = np.asarray(xy, np.float32)  # [n, dims] their places
        self.n_neighbors = int(n_neighbors)

    def transform(self, z: np.ndarray) -> np.ndarray:
        import torch
        from sklearn.neighbors import NearestNeighbors

        z = np.asarray(z, np.float32).reshape(len(z), -1)
        k = min(self.n_neighbors, len(self.z))
        dist, idx = NearestNeighbors(n_neighbors=k).fit(self.z).kneighbors(z)  # [q, k]
        d = torch.as_tensor(np.column_stack([np.zeros(len(z)), dist]), dtype=torch.float64)  # as if the query were in
        rho, sigma = smooth_knn(d, k + 1)
        w = torch.exp(-((d[:, 1:] - rho[:, None]).clamp(min=0.0)) / sigma[:, None]).numpy()  # [q, k]
        w = w / np.maximum(w.sum(1, keepdims=True), 1e-12)
        return np.einsum("qk,qkd->qd", w, self.xy[idx]).astype(np.float32)
