"""Where a finished t-SNE or UMAP map puts a new image (an uploaded or drawn digit): the method's own transform."""

from __future__ import annotations

from dataclasses import dataclass

from aecore.engine.kinds.base import Params, param
from aecore.engine.kinds.results import ResultKind, load_run


@dataclass(frozen=True)
class PlaceParams(Params):
    kind = "place"
    run: str = param(type="ref")
    place: tuple = param(type="image", doc="the image, 28x28 numbers from 0 to 255")
    layout: dict = param(type="object", doc="the map's own parameters (a projection job's, without its run)")


class Place(ResultKind):
    name, title, Params = "place", "Placing your image on the map", PlaceParams
    lane = "view"

    def cost(self, p, dataset) -> float:
        return 2_000.0  # one image placed on a kept layout

    def compute(self, p, ctx, dataset):
        import numpy as np

        from aecore.analysis.projection import Placer, ProjectionError
        from aecore.analysis.results import Result
        from aecore.engine.kinds.projection import Projection
        from aecore.engine.refs import result_key
        from aecore.models.evaluate import encode

        layout = Projection().parse(dict(p.layout, run=p.run))
        path = ctx.store.results_dir / f"{result_key(ctx.store, Projection(), layout)}.placer.pkl"
        if not path.is_file():
            raise ProjectionError("that layout was not kept (it was stopped early, or made before new images could be "
                                  "placed): run the projection again")
        placer = Placer.from_bytes(path.read_bytes())
        z = encode(load_run(ctx, p.run).model, np.asarray(p.place, np.uint8)[None])  # [1, k]
        return Result("place", p.to_dict(), images={"xy": placer.place(z)}, summary={"method": placer.method})
