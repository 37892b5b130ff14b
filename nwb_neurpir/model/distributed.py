"""Multi-process training under ``torchrun``: process group set-up, rank-0 broadcast, barriers.

The same ``train`` call works alone or under ``torchrun --nproc_per_node N``: gloo on CPU, nccl on GPUs. Neurons are
sharded across ranks by the trainer; weights stay identical because DistributedDataParallel averages gradients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistEnv", "barrier", "broadcast_module", "from_rank_0", "max_over_ranks", "resolve_device", "setup_distributed"]


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
    """``auto``: the local rank's GPU when CUDA is available, else the CPU; anything else as given."""
    if preference != "auto":
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def setup_distributed(device_preference: str = "auto") -> DistEnv:
    """Join the ``torchrun`` process group when ``WORLD_SIZE`` > 1; otherwise a single-process environment."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_preference, local_rank)
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
