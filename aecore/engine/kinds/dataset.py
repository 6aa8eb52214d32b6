"""Importing images into the data home as a named data set (an uploaded zip or .npz), or fetching a torchvision one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aecore.engine.kinds.base import JobKind, KindError, Outcome, Params, param
from aecore.engine.progress import JobProgress
from aecore.engine.store import DONE


@dataclass(frozen=True)
class DatasetParams(Params):
    kind = "dataset"
    action: str = param(type="str", choices=("add", "fetch"))
    name: str = param(type="str", doc="the new data set's name (add), or cifar10 / flowers102 (fetch)")
    upload: str = param("", type="str", doc="the uploaded file's token in the uploads folder (add)")
    file: str = param("", type="str", doc="the uploaded file's own name, as the student chose it")
    size: int | None = param(None, type="int", lo=8, hi=256, optional=True)
    grey: bool | None = param(None, type="bool", optional=True)
    test_fraction: float = param(0.2, type="float", lo=0.05, hi=0.85)

    def check(self) -> None:
        from aecore.data.imported import check_name

        if self.action == "fetch":
            from aecore.data.dataset import COLOUR_DATASETS

            if self.name not in COLOUR_DATASETS:
                raise KindError(f"dataset: the data sets to fetch are {', '.join(COLOUR_DATASETS)}")
        else:
            check_name(self.name)
            if not self.upload or Path(self.upload).name != self.upload:
                raise KindError("dataset: upload must name a file of the uploads folder")


class DatasetImport(JobKind):
    name, title, Params = "dataset", "Importing a data set", DatasetParams
    keyed = False

    def dataset_name(self, p, store) -> str:
        return ""  # it makes a data set: there is none to read

    def cost(self, p, dataset) -> float:
        return 0.0

    def run(self, p: DatasetParams, ctx, dataset) -> Outcome:
        from aecore.data import imported as datasets
        from aecore.data.dataset import DataError

        def on_progress(done: int, total: int) -> None:  # after every image: Stop and the time limit end it here
            ctx.check()
            ctx.report(JobProgress(phase="importing images", fraction=done / max(total, 1), done=int(done),
                                   total=int(total)), force=done >= total)

        if p.action == "fetch":
            datasets.fetch(p.name, size=p.size, grey=bool(p.grey), on_progress=on_progress)
            return Outcome(DONE)
        upload = ctx.store.uploads_dir / p.upload  # only a file in the uploads folder, whatever is asked
        try:
            datasets.add(upload, p.name, size=p.size, grey=p.grey, test_fraction=p.test_fraction,
                         on_progress=on_progress, about={"workspace": ctx.job.workspace, "file": p.file[:200]})
        except DataError as e:  # named by the file the student chose, not by its token in the uploads folder
            raise DataError(str(e).replace(upload.name, p.file[:200] or "the uploaded file")) from None
        finally:
            upload.unlink(missing_ok=True)
        return Outcome(DONE)
