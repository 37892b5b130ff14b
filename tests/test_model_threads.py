"""How many threads torch runs with: the CPUs a process may use (its affinity capped by a cgroup CPU quota, read
from real files written like /sys/fs/cgroup's), and the count a loaded model and the estimator embed with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import nwb_neurpir as npir
from nwb_neurpir.io import open_recording
from nwb_neurpir.model import NeurPIR, train
from nwb_neurpir.model.threads import available_cpus, cgroup_cpu_quota, omp_num_threads, thread_count
from nwb_neurpir.testing import make_spikes_nwbfile, tiny_config, write_nwbfile

AFFINITY = len(os.sched_getaffinity(0))


def _cgroups(tmp_path: Path, own: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A fake cgroup root holding ``files`` (path below the root -> text) and a /proc/self/cgroup reading ``own``."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "own").write_text(own)
    return root, tmp_path / "own"


@pytest.mark.parametrize(("own", "files", "quota"), [
    ("0::/\n", {"cpu.max": "150000 100000\n"}, 1.5),  # a container: its own cgroup is the root it sees
    ("0::/\n", {"cpu.max": "max 100000\n"}, None),
    ("0::/user.slice/jupyter-ada.service\n",  # a systemd unit (JupyterHub's SystemdSpawner): the smallest above it
     {"user.slice/jupyter-ada.service/cpu.max": "max 100000\n", "user.slice/cpu.max": "50000 100000\n",
      "cpu.max": "400000 100000\n"}, 0.5),
    ("4:cpu,cpuacct:/kubepods/pod1\n0::/\n",  # cgroup v1 (v2 mounted beside it without the cpu controller)
     {"cpu/kubepods/pod1/cpu.cfs_quota_us": "200000\n", "cpu/kubepods/pod1/cpu.cfs_period_us": "100000\n"}, 2.0),
    ("4:cpu,cpuacct:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ("4:cpu,cpuacct:/docker/abc\n",  # a container's own cgroup mounted as the root, its host path not below it
     {"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1.0),
    ("0::/\n", {"cpu.max": "garbled\n"}, None),
    ("", {}, None),
])
def test_the_cgroup_cpu_quota_is_read_from_v2_and_v1_files(tmp_path: Path, own: str, files: dict[str, str],
                                                           quota: float | None) -> None:
    assert cgroup_cpu_quota(*_cgroups(tmp_path, own, files)) == quota


@pytest.mark.parametrize(("quota", "cpus"), [("50000 100000", 1), ("150000 100000", min(AFFINITY, 2)),
                                             ("max 100000", AFFINITY), (f"{AFFINITY * 300000} 100000", AFFINITY)])
def test_available_cpus_are_the_affinity_capped_by_the_quota_rounded_up(tmp_path: Path, quota: str,
                                                                        cpus: int) -> None:
    assert available_cpus(*_cgroups(tmp_path, "0::/\n", {"cpu.max": quota})) == cpus


@pytest.mark.parametrize(("value", "count"), [("1", 1), ("4,2", 4), (" 3 ", 3), ("0", None), ("many", None),
                                             ("", None)])
def test_omp_num_threads_is_the_count_zero_threads_stands_for(value: str, count: int | None,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert omp_num_threads() == count
    assert thread_count(0) == (count or available_cpus()) and thread_count(5) == 5


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny trained model folder and a file to embed."""
    folder = tmp_path_factory.mktemp("threads")
    source = write_nwbfile(make_spikes_nwbfile(n_units=6, duration=20.0, seed=3), folder / "s.nwb")
    train([open_recording(source)], tiny_config(context="none"), out_dir=folder / "model", progress=False)
    return folder / "model", source


def test_a_loaded_model_embeds_with_the_cpus_the_process_may_use(model_folder: tuple[Path, Path],
                                                                 torch_threads: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder, source = model_folder
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    model = NeurPIR.load(folder)
    assert model.config.num_threads == 0  # threads are not saved with the model
    model.embed(open_recording(source), progress=False)
    assert torch.get_num_threads() == available_cpus() != torch_threads
    model.set_threads(2).embed(open_recording(source), progress=False)
    assert torch.get_num_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the count a user asked for in the environment, for 0
    model.set_threads(0).embed(open_recording(source), progress=False)
    assert torch.get_num_threads() == 1


def test_the_estimator_embeds_with_its_num_threads(model_folder: tuple[Path, Path], tmp_path: Path,
                                                   torch_threads: int) -> None:
    folder, source = model_folder
    estimator = npir.NeurPIR.load(folder).set_params(num_threads=1)
    estimator.transform(source, progress=False)
    assert torch.get_num_threads() == 1 != torch_threads
    estimator.set_params(num_threads=2)
    npir.annotate(estimator, source, output_dir=tmp_path, progress=False)
    assert torch.get_num_threads() == 2
