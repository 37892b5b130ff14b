"""Multi-process training under ``torchrun``: process group set-up, rank-0 broadcast, barriers.

The same ``train`` call works alone or under ``torchrun --nproc_per_node N``: gloo on CPU, nccl on GPUs. Neurons are
sharded across ranks by the trainer; weights stay identical because DistributedDataParallel averages gradients.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from nwb_neurpir.errors import NeurPIRError, RankError

__all__ = ["DistEnv", "barrier", "broadcast_module", "from_rank_0", "max_over_ranks", "on_every_rank", "resolve_device",
           "setup_distributed"]


@dataclass(frozen=True)
class DistEnv:
    """This process's place in the job."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def resolve_device(preference: str, local_rank: int) -> torch.device:
    """``auto``: the local rank's GPU when CUDA is available, else the CPU; anything else as given, when this machine
    has it (else a NeurPIRError)."""
    if preference != "auto":
        return _available(torch.device(preference))
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def _available(device: torch.device) -> torch.device:
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NeurPIRError(f"device {str(device)!r}: torch sees no CUDA GPU on this machine; use device 'auto' or "
                           "'cpu'")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise NeurPIRError(f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise NeurPIRError(f"device {str(device)!r}: torch sees no Apple GPU (MPS) on this machine; use device 'auto' "
                           "or 'cpu'")
    return device


def setup_distributed(device_preference: str = "auto") -> DistEnv:
    """Join the ``torchrun`` process group when ``WORLD_SIZE`` > 1; otherwise a single-process environment."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    try:
        device = resolve_device(device_preference, local_rank)
    except NeurPIRError as error:  # checked before the ranks can agree: each rank says it for its machine
        if world_size > 1 and os.environ.get("RANK", "0") != "0":
            raise RankError(error.message, error.source) from None
        raise
    if world_size <= 1:
        return DistEnv(rank=0, world_size=1, device=device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return DistEnv(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)


def broadcast_module(module: torch.nn.Module, env: DistEnv) -> None:
    """Copy rank 0's parameters and buffers into every rank's ``module`` (in place)."""
    if not env.active:
        return
    with torch.no_grad():
        for tensor in module.state_dict().values():
            moved = tensor.to(env.device)
            dist.broadcast(moved, src=0)
            tensor.copy_(moved.to(tensor.device))


def barrier(env: DistEnv) -> None:
    """Wait for every rank (no-op alone)."""
    if env.active:
        dist.barrier()


def from_rank_0(value: int, env: DistEnv) -> int:
    """Rank 0's ``value``, on every rank (alone: ``value``)."""
    if not env.active:
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=env.device)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def max_over_ranks(value: int, env: DistEnv) -> int:
    """The largest of every rank's ``value``, on every rank (alone: ``value``)."""
    if not env.active:
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=env.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())


Result = TypeVar("Result")


def on_every_rank(work: Callable[[], Result], env: DistEnv) -> Result:
    """``work()`` on every rank; when it raises a NeurPIRError on any rank, every rank raises one: rank 0 its own (or
    one saying other ranks failed), a rank whose error rank 0 does not have a RankError, the others the error they
    share with rank 0 (which the CLI prints on rank 0 only)."""
    if not env.active:
        return work()
    try:
        result, error = work(), None
    except NeurPIRError as caught:
        result, error = None, caught
    failed = int(error is not None)
    rank_0_failed = from_rank_0(failed, env)
    if not max_over_ranks(failed, env):
        return result  # type: ignore[return-value]
    if error is not None and not env.is_main and not rank_0_failed:
        raise RankError(error.message, error.source) from error
    if error is not None:
        raise error
    raise NeurPIRError("another rank failed (the CLI prints its error)")
