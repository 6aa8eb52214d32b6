"""One optimizer step per call without torch.optim's per-step Python: the same fused kernel, the same state."""

from __future__ import annotations

import torch
from torch.optim import optimizer as _optimizer


class LeanStep:
    """Clears gradients and steps a torch optimizer; a fused Adam/AdamW goes straight to its kernel.

    `torch.optim.Adam(fused=True).step()` spends about 0.1 ms per call in Python (hooks, grouping the
    tensors by device and dtype, state checks) before one fused kernel that itself takes ~0.03 ms: at
    batch 20 on the CPU that is a tenth of a training step. Here the lists are built once and each call
    is the two calls torch makes (`_foreach_add_` on the step counters, `_fused_adam_`/`_fused_adamw_`),
    so parameters and moments are bit-for-bit what `opt.step()` gives, and they live in `opt.state`,
    so `opt.state_dict()` saves and resumes them as before. The learning rate is read from the param
    group on every call, so schedules work unchanged. Any other optimizer, a missing gradient, step
    hooks (e.g. an EMA) or a setting the shortcut does not cover (amsgrad, maximize, several groups, a
    tensor lr) takes `opt.step()`. Build it after loading a saved optimizer state: it holds the state's tensors.
    """

    def __init__(self, opt: torch.optim.Optimizer):
        self.opt = opt
        self.params = [p for g in opt.param_groups for p in g["params"]]  # every trained tensor, in order
        self.lists = None  # (exp_avgs, exp_avg_sqs, steps) once the state exists
        g = opt.param_groups[0]
        self.fused = (
            isinstance(opt, torch.optim.Adam)  # AdamW is an Adam in torch >= 2.6
            and len(opt.param_groups) == 1
            and bool(g.get("fused"))
            and not g.get("amsgrad") and not g.get("maximize") and not g.get("differentiable")
            and not torch.is_tensor(g["lr"])
            and len({(p.device, p.dtype) for p in self.params}) == 1
        )
        decoupled = g.get("decoupled_weight_decay", isinstance(opt, torch.optim.AdamW))
        self.kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_

    def zero_grad(self) -> None:
        """Gradients to None (the next backward writes them instead of adding)."""
        for p in self.params:
            p.grad = None

    def _state_lists(self):
        """The moments and step counters, created as torch's Adam creates them on its first step."""
        state = self.opt.state
        for p in self.params:
            st = state[p]
            if len(st) == 0:
                st["step"] = torch.zeros((), dtype=torch.float32, device=p.device)  # fused: on the device
                st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return ([state[p]["exp_avg"] for p in self.params], [state[p]["exp_avg_sq"] for p in self.params],
                [state[p]["step"] for p in self.params])

    def _hooked(self) -> bool:
        """Whether step hooks are registered (on this optimizer or on all): opt.step() runs them, the kernel would not."""
        return bool(self.opt._optimizer_step_pre_hooks or self.opt._optimizer_step_post_hooks
                    or _optimizer._global_optimizer_pre_hooks or _optimizer._global_optimizer_post_hooks)

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter from its gradient."""
        grads = [p.grad for p in self.params]
        if not self.fused or any(g is None for g in grads) or self._hooked():
            self.opt.step()
            return
        self.step_in_place()

    def graph_safe(self) -> bool:
        """Whether `step_in_place` applies: the fused kernel and no step hooks (what a CUDA graph can capture)."""
        return self.fused and not self._hooked()

    @torch.no_grad()
    def step_in_place(self, lr: float | torch.Tensor | None = None) -> None:
        """The fused update from the gradients the parameters hold now, with nothing read back to the host: the
        step counters live on the device, so a CUDA graph can capture it and replay it step after step.

        `lr`: the group's rate now (a float, baked into a captured graph) or a 0-d float32 tensor on the
        parameters' device that the caller refills before each replay (a schedule); the same update as
        `step()` with a float rate (a tensor rate is that rate rounded to float32)."""
        if self.lists is None:
            self.lists = self._state_lists()
            self.opt._opt_called = True  # what opt.step() tells a learning-rate schedule: it has stepped
        exp_avgs, exp_avg_sqs, steps = self.lists
        g = self.opt.param_groups[0]
        beta1, beta2 = g["betas"]
        torch._foreach_add_(steps, 1)
        self.kernel(self.params, [p.grad for p in self.params], exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                    lr=g["lr"] if lr is None else lr, beta1=float(beta1), beta2=float(beta2),
                    weight_decay=g["weight_decay"], eps=g["eps"], maximize=False, grad_scale=None, found_inf=None)
