"""What an import accepts (Limits), the image sizes, and the count, bytes and disk checks made before decoding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aecore.data.dataset import DataError

SIZE_RANGE = (8, 256)  # the side of the square images a data set is resized to (the app offers 28, 32, 64)
DEFAULT_SIZE = 32


@dataclass(frozen=True)
class Limits:
    """What an import accepts; every limit is checked before the data it guards is read or decoded."""

    max_members: int = 100_000  # entries in a zip, or files under a folder
    max_images: int = 70_000  # images in one data set (MNIST has 70,000)
    max_file_bytes: int = 64 * 2**20  # one image file (as read, never as a header claims)
    max_total_bytes: int = 2 * 2**30  # everything a zip or .npz unpacks to (as declared and as read)
    max_ratio: int = 200  # a zip member that inflates more than this (and to over 1 MiB) is taken for a zip bomb
    max_pixels: int = 40_000_000  # one image's width x height, read from its header before it is decoded
    # All images' width x height together, read from their headers before any image is decoded. Decoding and
    # resizing cost 5-20 ns a pixel on one core (PNG and JPEG, measured), so 5 G pixels are 0.5-2 minutes of work,
    # well inside a job's time limit. It admits 70,000 images of 256x256 (4.6 G), Flowers102 at full size (8,189
    # photos of about 500x600, ~2.5 G), MNIST (55 M) and CIFAR-10 (61 M); a zip of a few thousand 40-megapixel
    # single-colour PNGs (hours of decoding from a few MB) is refused before the first one is decoded.
    max_total_pixels: int = 5_000_000_000
    max_array_bytes: int = 1 * 2**30  # the imported uint8 arrays: images x size x size x channels
    max_classes: int = 1000
    max_class_name_chars: int = 1000  # one entry of an .npz's class_names, checked in its header before it is read
    # Disk the imported data sets may take, checked from the arrays' shapes before anything is written: all the
    # sets imported from one workspace (the app's `about={"workspace": ...}`; the command line has none), and all
    # the data home's sets (and downloads) together. A set being replaced does not count.
    max_workspace_bytes: int = 1 * 2**30  # one workspace: one set of the largest size, or five CIFAR-10-sized ones
    max_server_bytes: int = 10 * 2**30  # the whole server


LIMITS = Limits()


def check_count(n_images: int, size: int, channels: int, limits: Limits) -> None:
    if n_images > limits.max_images:
        raise DataError(f"{n_images:,} images are more than the limit of {limits.max_images:,}; import a selection")
    nbytes = n_images * size * size * channels
    if nbytes > limits.max_array_bytes:
        raise DataError(f"{n_images:,} images of {size}x{size}x{channels} take {nbytes / 2**20:,.0f} MiB, more than "
                        f"the limit of {limits.max_array_bytes / 2**20:,.0f} MiB; choose a smaller size or fewer images")


def check_size(size: int) -> int:
    lo, hi = SIZE_RANGE
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not lo <= size <= hi:
        raise DataError(f"image size must be a whole number from {lo} to {hi} (e.g. 28, 32 or 64), got {size!r}")
    return int(size)


def disk_bytes(image_bytes: int, n_images: int) -> int:
    """What a set of `n_images` whose images take `image_bytes` takes on disk (at most): the images, the labels
    (int16 at most), the .npy and zip headers and the manifest."""
    return image_bytes + 2 * n_images + 8 * 2**10
