"""Kinds whose outcome is a stored result (experiments, codes, projections): computed once, shared by content key."""

from __future__ import annotations

from aecore.engine.kinds.base import JobKind, Outcome
from aecore.engine.store import DONE, STOPPED


class ResultKind(JobKind):
    """A kind that computes an aecore.analysis.results.Result; the worker stores it under the job's content key (a
    stopped one under "<key>-partial", which the page shows as what finished)."""

    keyed = True
    stopped_text = "the tables show what finished"

    def compute(self, p, ctx, dataset):
        raise NotImplementedError

    def run(self, p, ctx, dataset) -> Outcome:
        from aecore.analysis.results import ResultStore

        res = self.compute(p, ctx, dataset)
        key = ctx.job.result_key
        res.kind, res.params = self.name, p.to_dict()
        results = ResultStore(ctx.store.results_dir)
        if res.status == "done":
            results.put_key(key, res)
            return Outcome(DONE, "", result_key=key)
        results.put_key(key + "-partial", res, partial=True)
        return Outcome(STOPPED, f"{ctx.stop_reason or 'stopped'}: {self.stopped_text}", result_key=key + "-partial")


def load_run(ctx, ref: str):
    """The run a job reads (a zoo run or a kept run)."""
    from aecore.engine.refs import load_ref

    return load_ref(ctx.store, ref)
