"""An import source's files (a zip never extracted, or a folder) listed and read within the Limits."""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from aecore.data.dataset import DataError
from aecore.data.import_limits import Limits

HEADER_BYTES = 64 * 1024  # read to find an image's size; a header further in (a JPEG after a large EXIF) reads it all


def _bad_member_name(name: str) -> str | None:
    """Why a member name is unsafe, or None."""
    if "\x00" in name:
        return "has a NUL character"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if "\\" in name:
        return "uses backslashes"
    if ".." in PurePosixPath(name).parts:
        return "climbs out of the archive with '..'"
    return None


def zip_entry_count(path: Path) -> int | None:
    """The entry count from a zip's end record, read before the central directory is parsed (None if unknown)."""
    try:
        with open(path, "rb") as f:
            end = zipfile._EndRecData(f)  # noqa: SLF001 (the stdlib's own reader of the end record)
        return int(end[zipfile._ECD_ENTRIES_TOTAL]) if end else None
    except Exception:
        return None


class Source:
    """Files of an import source read with limits: a zip (never extracted) or a folder (links refused)."""

    def __init__(self, path: Path, limits: Limits):
        self.path, self.limits = path, limits
        self.zip: zipfile.ZipFile | None = None
        self.read_total = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.zip is not None:
            self.zip.close()

    def files(self) -> list[tuple[str, int]]:
        """(relative posix path, bytes) of every regular file, after the safety checks."""
        lim = self.limits
        if self.path.is_dir():
            out = []
            for dirpath, dirnames, filenames in os.walk(self.path, followlinks=False):
                for d in list(dirnames):
                    if os.path.islink(os.path.join(dirpath, d)):
                        rel = os.path.relpath(os.path.join(dirpath, d), self.path)
                        raise DataError(f"{rel} is a symbolic link: links are not followed; copy the images in instead")
                for fn in filenames:
                    full = os.path.join(dirpath, fn)
                    rel = Path(os.path.relpath(full, self.path)).as_posix()
                    st = os.lstat(full)
                    if stat.S_ISLNK(st.st_mode):
                        raise DataError(f"{rel} is a symbolic link: links are not followed; copy the images in instead")
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    out.append((rel, st.st_size))
                    if len(out) > lim.max_members:
                        raise DataError(f"the folder holds more than {lim.max_members:,} files, the limit; "
                                        "import a smaller selection")
            return out
        n = zip_entry_count(self.path)
        if n is not None and n > lim.max_members:
            raise DataError(f"the zip holds {n:,} entries, more than the limit of {lim.max_members:,}; "
                            "import a smaller selection")
        try:
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise DataError(f"{self.path.name} is not a readable zip file ({e})") from None
        infos = self.zip.infolist()
        if len(infos) > lim.max_members:
            raise DataError(f"the zip holds {len(infos):,} entries, more than the limit of {lim.max_members:,}; "
                            "import a smaller selection")
        seen: set[str] = set()
        for zi in infos:  # one file listed many times would be decoded many times (and which copy would count?)
            if zi.filename in seen:
                raise DataError(f"the zip lists {zi.filename[:80]!r} more than once: it is damaged or crafted; "
                                "refusing the whole archive (nothing was written)")
            seen.add(zi.filename)
        out, total = [], 0
        for zi in infos:
            why = _bad_member_name(zi.filename)
            if why:
                raise DataError(f"the zip entry {zi.filename[:80]!r} {why}: refusing the whole archive "
                                "(nothing was written)")
            mode = zi.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise DataError(f"the zip entry {zi.filename[:80]!r} is a symbolic link: links are refused "
                                "(nothing was written)")
            if zi.is_dir():
                continue
            if zi.file_size > 2**20 and zi.file_size > lim.max_ratio * max(zi.compress_size, 1):
                raise DataError(f"the zip entry {zi.filename[:80]!r} would inflate {zi.file_size // max(zi.compress_size, 1):,}"
                                f" times (to {zi.file_size / 2**20:,.0f} MiB): this looks like a zip bomb; refused")
            total += zi.file_size
            if total > lim.max_total_bytes:
                raise DataError(f"the zip would unpack to more than {lim.max_total_bytes / 2**30:g} GiB, the limit "
                                "(a zip bomb, or too many large images); refused")
            out.append((zi.filename, zi.file_size))
        return out

    def _bytes(self, rel: str, n: int) -> bytes:
        """The first `n` bytes of a file; Skip when it cannot be read (a damaged zip entry: a wrong CRC, a header
        that lies about its size, an unknown compression or a password; a folder's file that is not a plain file)."""
        try:
            if self.zip is not None:
                with self.zip.open(rel) as f:
                    return f.read(n)
            fd = os.open(self.path / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # never blocks on a pipe
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise Skip("is not a plain file any more")
                return f.read(n)
        except (Skip, DataError, MemoryError):
            raise
        except Exception as e:  # BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError, ...
            where = "from the zip" if self.zip is not None else "from the folder"
            raise Skip(f"cannot be read {where} (damaged: {type(e).__name__})") from None

    def head(self, rel: str) -> bytes:
        """The start of a file: enough for an image header (PIL reads only the header when it opens an image)."""
        return self._bytes(rel, HEADER_BYTES)

    def read(self, rel: str, count: bool = True) -> bytes:
        """One file's bytes, at most max_file_bytes (counted as read unless `count` is False; DataError beyond)."""
        lim = self.limits
        cap = lim.max_file_bytes
        data = self._bytes(rel, cap + 1)
        if len(data) > cap:
            raise Skip(f"is larger than {cap / 2**20:g} MiB")
        if not count:
            return data
        self.read_total += len(data)
        if self.read_total > lim.max_total_bytes:
            raise DataError(f"the images unpack to more than {lim.max_total_bytes / 2**30:g} GiB, the limit; refused")
        return data


class Skip(Exception):
    """One file is not a usable image (the import goes on without it and says so)."""


def image_pixels(src: Source, rel: str, limits: Limits) -> int:
    """An image file's width x height, from its header alone (nothing is decoded); Skip when it is not a usable
    image or has more than max_pixels."""
    import warnings

    from PIL import Image

    data, whole = src.head(rel), False
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as im:
                    w, h = im.size
            break
        except Image.DecompressionBombError:
            raise Skip(f"has more than {limits.max_pixels:,} pixels") from None
        except Exception as e:  # PIL's errors on a file it cannot parse are many (OSError, SyntaxError, ...)
            if not whole and len(data) == HEADER_BYTES:  # the header may lie further in (after a large EXIF)
                data, whole = src.read(rel, count=False), True
                continue
            raise Skip(f"cannot be read as an image ({type(e).__name__})") from None
    if w < 1 or h < 1:
        raise Skip("is empty")
    if w * h > limits.max_pixels:
        raise Skip(f"is {w:,}x{h:,} pixels, more than the limit of {limits.max_pixels:,}")
    return w * h
