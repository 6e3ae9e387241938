"""The two ``torch_scatter`` functions RecBole 1.2.1's KGIN and MCCLK import, in plain torch.

``torch-scatter`` has no wheel for torch 2.13 on PyPI (it compiles from source, about 15 minutes here).
``run_recbole_models.py`` puts this folder on ``sys.path`` only when the real package is not installed.
Same semantics as torch_scatter for the calls RecBole makes (``dim=0``, a 1-D ``index``): rows that receive
nothing are 0, and ``scatter_mean`` divides by the count clamped to at least 1.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["scatter_mean", "scatter_softmax", "scatter_sum"]


def _check(src: Tensor, index: Tensor, dim: int) -> None:
    if dim != 0 or index.dim() != 1 or index.numel() != src.size(0):
        raise NotImplementedError("this torch_scatter stand-in supports dim=0 with a 1-D index of len(src) only")


def scatter_sum(src: Tensor, index: Tensor, dim: int = 0, dim_size: int | None = None) -> Tensor:
    _check(src, index, dim)
    size = int(index.max()) + 1 if dim_size is None else dim_size
    return src.new_zeros((size, *src.shape[1:])).index_add_(0, index, src)


def scatter_mean(src: Tensor, index: Tensor, dim: int = 0, dim_size: int | None = None) -> Tensor:
    total = scatter_sum(src, index, dim, dim_size)
    count = src.new_zeros(total.size(0)).index_add_(0, index, src.new_ones(index.numel())).clamp_(min=1)
    return total / count.view(-1, *([1] * (src.dim() - 1)))


def scatter_softmax(src: Tensor, index: Tensor, dim: int = 0, dim_size: int | None = None) -> Tensor:
    _check(src, index, dim)
    size = int(index.max()) + 1 if dim_size is None else dim_size
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    row_max = src.new_full((size, *src.shape[1:]), float("-inf")).scatter_reduce(
        0, expanded, src, reduce="amax", include_self=True)
    exp = (src - row_max.gather(0, expanded)).exp()
    return exp / scatter_sum(exp, index, 0, size).gather(0, expanded)
