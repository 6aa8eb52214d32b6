"""Your own images: importing folders, zips, arrays and Flowers102's layout into the data home, and every kind of
bad input refused with a clear message, nothing written outside the data home."""

import io
import os
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from aecore.data import catalog
from aecore.data import dataset as data_set
from aecore.data import imported as datasets
from aecore.data.dataset import DataError
from aecore.data.import_limits import Limits
from aecore.data.shapes import make_shapes, write_shapes_folder


@pytest.fixture(autouse=True)
def home(data_home):
    datasets._load_cached.cache_clear()
    return datasets.home()


def png(img: np.ndarray | Image.Image, fmt: str = "PNG") -> bytes:
    im = img if isinstance(img, Image.Image) else Image.fromarray(img)
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def make_zip(path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    return str(path)


def shape_members(n_classes=2, per_class=6, size=32, prefix="") -> dict[str, bytes]:
    x, y, names = make_shapes(n_classes, per_class, size)
    return {f"{prefix}{names[c]}/{i}.png": png(img) for i, (img, c) in enumerate(zip(x, y))}


def files_under(root) -> set[str]:
    return {os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs}


def test_folder_import_gives_a_colour_dataset_by_name(tmp_path, home):
    write_shapes_folder(tmp_path / "shapes", 4, 20, 32)
    m = datasets.add(tmp_path / "shapes", "shapes")
    assert m["classes"] == ["circle", "cross", "square", "triangle"]  # sorted folder names (ImageFolder's order)
    assert (m["n_train"], m["n_test"], m["size"], m["channels"]) == (64, 16, 32, 3)
    assert m["counts_test"] == [4, 4, 4, 4]  # stratified 20% per class
    ds = catalog.load_dataset("shapes")
    assert ds.image_shape == (3, 32, 32) and ds.class_names == tuple(m["classes"]) and ds.n_classes == 4
    assert ds.train.x.shape == (64, 32, 32, 3) and ds.train.x.dtype == np.uint8 and not ds.train.x.flags.writeable
    assert data_set.float_images(ds.test.x[:5]).shape == (5, 3, 32, 32)
    assert data_set.device_images(ds.train.x, "cpu").shape == (64, 3, 32, 32)
    assert catalog.is_dataset_name("shapes") and not catalog.is_dataset_name("nope")
    assert catalog.dataset_image_shape("shapes") == (3, 32, 32) and catalog.dataset_image_shape("mnist") == (1, 28, 28)
    assert [r["name"] for r in datasets.listing()][-1] == "shapes"
    assert set(os.listdir(home)) == {"shapes"}  # no temporary folder left behind
    # grey and another size, kept as another data set; the first one is untouched
    g = datasets.add(tmp_path / "shapes", "shapes-grey", size=28, grey=True)
    assert (g["size"], g["channels"]) == (28, 1) and catalog.load_dataset("shapes-grey").train.x.shape == (64, 28, 28)
    assert datasets.names() == ["shapes", "shapes-grey"]


def test_mnist_is_unchanged():
    ds = catalog.load_dataset("mnist")
    assert ds.image_shape == (1, 28, 28) and ds.class_names == tuple("0123456789") and ds.classes == ()
    assert data_set.float_images(ds.test.x[:3]).shape == (3, 1, 28, 28)


def test_zip_with_a_wrapping_folder_and_train_test_split(tmp_path):
    members = shape_members(2, 6, prefix="pics/train/")
    members.update(shape_members(2, 3, prefix="pics/test/"))
    members["pics/README.txt"] = b"hello"
    members["__MACOSX/pics/._x.png"] = b"junk"
    m = datasets.add(make_zip(tmp_path / "s.zip", members), "split")
    assert (m["n_train"], m["n_test"], m["kind"]) == (12, 6, "zip")
    assert any("outside the class folders" in n for n in m["notes"])


def test_mixed_sizes_and_modes_are_converted(tmp_path):
    rng = np.random.default_rng(0)
    members = {}
    for i, mode in enumerate(["RGB", "RGBA", "L", "P", "1", "CMYK", "I;16", "LA"]):
        for cls in ("a", "b"):
            w, h = int(rng.integers(5, 300)), int(rng.integers(5, 300))
            im = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).convert(mode)
            members[f"{cls}/{i}.{'tif' if mode in ('CMYK', 'I;16') else 'png'}"] = png(im, "TIFF" if mode in ("CMYK", "I;16") else "PNG")
    members["a/photo.jpg"] = png(rng.integers(0, 255, (400, 600, 3), dtype=np.uint8), "JPEG")
    m = datasets.add(make_zip(tmp_path / "mixed.zip", members), "mixed", size=28)
    assert m["n_train"] + m["n_test"] == 17 and m["notes"] == []
    assert catalog.load_dataset("mixed").train.x.shape[1:] == (28, 28, 3)


def test_corrupt_and_non_image_files_are_skipped_and_named(tmp_path):
    members = shape_members(2, 5)
    members["circle/broken.png"] = b"\x89PNG\r\n\x1a\n" + b"garbage" * 10
    members["circle/notes.txt"] = b"not an image"
    members["cross/empty.jpg"] = b""
    m = datasets.add(make_zip(tmp_path / "c.zip", members), "c")
    assert m["n_train"] + m["n_test"] == 10
    notes = " ".join(m["notes"])
    assert "skipped 2 unreadable file(s)" in notes and "circle/broken.png cannot be read as an image" in notes
    assert "skipped 1 file(s) that are not images (by name): circle/notes.txt" in notes


def test_no_class_folders(tmp_path):
    x, _, _ = make_shapes(2, 3)
    z = make_zip(tmp_path / "flat.zip", {f"{i}.png": png(img) for i, img in enumerate(x)})
    with pytest.raises(DataError, match="no class folders: the 6 file.s. lie directly in the top folder"):
        datasets.add(z, "flat")


def test_one_class(tmp_path):
    z = make_zip(tmp_path / "one.zip", {k: v for k, v in shape_members(2, 4).items() if k.startswith("circle/")})
    with pytest.raises(DataError, match="only one class folder .'circle'.: a classifier needs at least 2"):
        datasets.add(z, "one")


def test_only_unreadable_images(tmp_path):
    z = make_zip(tmp_path / "bad.zip", {"a/1.png": b"nope", "b/2.png": b"nope"})
    with pytest.raises(DataError, match="no readable images: skipped 2 unreadable file"):
        datasets.add(z, "bad")


@pytest.mark.parametrize("name, why", [
    ("../evil/a.png", "climbs out of the archive with '..'"),
    ("a/../../evil.png", "climbs out of the archive with '..'"),
    ("/etc/evil.png", "is an absolute path"),
    ("C:/evil.png", "is an absolute path"),
    ("a\\..\\evil.png", "uses backslashes"),
])
def test_unsafe_member_names_refuse_the_archive(tmp_path, home, name, why):
    members = shape_members(2, 3)
    members[name] = png(np.zeros((8, 8, 3), np.uint8))
    z = make_zip(tmp_path / "evil.zip", members)
    before = files_under(tmp_path)
    with pytest.raises(DataError, match=f"{why}: refusing the whole archive .nothing was written."):
        datasets.add(z, "evil")
    assert files_under(tmp_path) == before  # nothing written anywhere, not even in the data home
    assert not datasets.exists("evil")


def test_symlinks_are_refused(tmp_path):
    members = shape_members(2, 3)
    z = tmp_path / "link.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
        info = zipfile.ZipInfo("circle/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="'circle/link.png' is a symbolic link: links are refused"):
        datasets.add(z, "link")
    folder = write_shapes_folder(tmp_path / "f", 2, 3)
    os.symlink("/etc/passwd", folder / "circle" / "x.png")
    with pytest.raises(DataError, match="circle/x.png is a symbolic link: links are not followed"):
        datasets.add(folder, "linkdir")
    os.remove(folder / "circle" / "x.png")
    os.symlink(tmp_path, folder / "loop")
    with pytest.raises(DataError, match="loop is a symbolic link"):
        datasets.add(folder, "linkdir")


def test_zip_bomb(tmp_path):
    members = shape_members(2, 3)
    members["circle/bomb.png"] = b"\0" * (20 * 2**20)  # 20 MiB of zeros deflate to about 20 KiB
    with pytest.raises(DataError, match="would inflate .* times .to 20 MiB.: this looks like a zip bomb; refused"):
        datasets.add(make_zip(tmp_path / "bomb.zip", members), "bomb")
    small = Limits(max_total_bytes=20_000)
    with pytest.raises(DataError, match="the zip would unpack to more than .* GiB, the limit"):
        datasets.add(make_zip(tmp_path / "big.zip", shape_members(2, 30)), "big", limits=small)


def test_too_many_files_is_refused_before_reading_them(tmp_path):
    z = tmp_path / "many.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        for i in range(20_000):  # tens of thousands of entries, each empty
            zf.writestr(f"{'ab'[i % 2]}/{i}.png", b"")
    limits = Limits(max_members=10_000)
    with pytest.raises(DataError, match="the zip holds 20,000 entries, more than the limit of 10,000"):
        datasets.add(z, "many", limits=limits)
    with pytest.raises(DataError, match="20,000 images are more than the limit of 10,000"):
        datasets.add(z, "many", limits=Limits(max_images=10_000))
    folder = write_shapes_folder(tmp_path / "f", 2, 10)
    with pytest.raises(DataError, match="the folder holds more than 5 files, the limit"):
        datasets.add(folder, "f", limits=Limits(max_members=5))


def test_memory_bound_on_the_imported_arrays(tmp_path):
    folder = write_shapes_folder(tmp_path / "f", 2, 10)
    with pytest.raises(DataError, match="20 images of 64x64x3 take 0 MiB, more than the limit"):
        datasets.add(folder, "f", size=64, limits=Limits(max_array_bytes=100_000))


def test_a_huge_image_is_skipped_before_decoding(tmp_path):
    members = shape_members(2, 4)
    members["circle/huge.png"] = png(Image.new("1", (9000, 5000)))  # 45 million pixels, a few KiB as PNG
    m = datasets.add(make_zip(tmp_path / "huge.zip", members), "huge")
    assert "circle/huge.png is 9,000x5,000 pixels, more than the limit of 40,000,000" in " ".join(m["notes"])
    assert m["n_train"] + m["n_test"] == 8


def test_names_and_bad_paths():
    with pytest.raises(DataError, match="is not allowed"):
        datasets.check_name("../x")
    with pytest.raises(DataError, match="'mnist' is a built-in data set"):
        datasets.check_name("mnist")
    with pytest.raises(DataError, match="does not exist"):
        datasets.add("/no/such/place", "x")
    with pytest.raises(DataError, match="unknown data set 'nope'"):
        catalog.load_dataset("nope")
    with pytest.raises(DataError, match="image size must be a whole number from 8 to 256"):
        datasets.add(".", "x", size=1000)


def test_npz_arrays(tmp_path):
    x, y, names = make_shapes(3, 10, 32)
    p = tmp_path / "a.npz"
    np.savez(p, x=x, y=y, class_names=np.array(names))
    m = datasets.add(p, "arr")
    assert (m["kind"], m["size"], m["channels"], m["classes"]) == ("npz", 32, 3, ["circle", "square", "triangle"])
    ds = catalog.load_dataset("arr")
    assert len(ds.train) + len(ds.test) == 30 and ds.class_names == ("circle", "square", "triangle")
    np.savez(tmp_path / "b.npz", x_train=x[:20] / 255.0, y_train=y[:20], x_test=x[20:] / 255.0, y_test=y[20:])
    m = datasets.add(tmp_path / "b.npz", "arr2", size=16, grey=True)  # floats in [0, 1], resized, grey
    assert (m["size"], m["channels"], m["n_train"], m["n_test"]) == (16, 1, 20, 10)
    np.savez(tmp_path / "obj.npz", x=np.array([object()] * 3, dtype=object), y=np.zeros(3))
    with pytest.raises(DataError, match="object arrays are refused"):
        datasets.add(tmp_path / "obj.npz", "obj")
    np.savez(tmp_path / "keys.npz", images=x)
    with pytest.raises(DataError, match="it needs arrays x_train, y_train, x_test, y_test .or x and y."):
        datasets.add(tmp_path / "keys.npz", "keys")
    np.savez(tmp_path / "one.npz", x=x, y=np.zeros(len(x), int))
    with pytest.raises(DataError, match="only one class"):
        datasets.add(tmp_path / "one.npz", "one")


def test_flowers102_layout(tmp_path):
    """A tiny fake of Flowers102 as torchvision downloads it: flowers-102/jpg, imagelabels.mat, setid.mat."""
    from scipy.io import savemat

    root = tmp_path / "flowers-102"
    (root / "jpg").mkdir(parents=True)
    rng = np.random.default_rng(0)
    n = 30
    labels = np.arange(n) % 3 + 1  # classes 1..3
    for i in range(1, n + 1):
        Image.fromarray(rng.integers(0, 255, (50 + i, 70, 3), dtype=np.uint8)).save(root / "jpg" / f"image_{i:05d}.jpg")
    savemat(root / "imagelabels.mat", {"labels": labels[None, :]})
    savemat(root / "setid.mat", {"trnid": np.arange(1, 7)[None], "valid": np.arange(7, 13)[None],
                                 "tstid": np.arange(13, 31)[None]})
    m = datasets.add(tmp_path, "fl", size=28)
    assert (m["kind"], m["n_train"], m["n_test"], m["size"]) == ("flowers102", 12, 18, 28)  # its own split
    assert m["classes"] == ["class 1", "class 2", "class 3"]  # Flowers102's names only when all 102 are there
    assert catalog.load_dataset("fl").train.x.shape == (12, 28, 28, 3)


def test_torchvision_sets_offline_give_a_clear_message(monkeypatch):
    import torchvision.datasets as tvd

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(tvd, "CIFAR10", offline)
    monkeypatch.setattr(tvd, "Flowers102", offline)
    for name in ("cifar10", "flowers102"):
        with pytest.raises(DataError, match=f"{name} is not here yet and could not be downloaded .OSError.; this "
                                            "machine may be offline"):
            catalog.load_dataset(name)


def test_replace_and_remove(tmp_path):
    folder = write_shapes_folder(tmp_path / "f", 2, 5)
    datasets.add(folder, "s")
    with pytest.raises(DataError, match="exists already"):
        datasets.add(folder, "s")
    assert datasets.add(folder, "s", size=16, replace=True)["size"] == 16
    assert catalog.load_dataset("s").image_shape == (3, 16, 16)
    datasets.remove("s")
    assert not datasets.exists("s") and datasets.names() == []
