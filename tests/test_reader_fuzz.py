"""Fuzz ``read_nwb`` with a few hundred seeded mutations of small valid NWB files (spikes and ophys).

Every case must end in ``NeurPIRError`` or in a valid ``Recording`` (possibly with warnings): never another exception
type and never a hang (each case runs under a 20 s alarm); both outcomes must be common (a reader that refused every
file, or mutations that broke none, would fail). Mutations: truncation, flipped bytes (anywhere, or inside a
dataset's stored bytes), deleted objects and attributes, wrong dtypes, absurd shapes, NaN/inf/negative/huge values,
negative durations, broken references and rates.
"""

from __future__ import annotations

import hashlib
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pytest
from reader_files import WINDOWS

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.recording import Recording
from nwb_neurpir.testing import make_ophys_nwbfile, make_spikes_nwbfile, write_nwbfile

N_CASES = 300
SEED = 20250101
CASE_TIMEOUT_S = 20

Mutation = Callable[[Path, np.random.Generator], str]


_CATALOGUES: dict[bytes, list[tuple[str, bool]]] = {}


def _objects(path: Path, kind: type | None = None) -> list[str]:
    """Objects outside /specifications of a freshly copied base file (listed once per base file, then cached)."""
    key = hashlib.sha1(path.read_bytes()).digest()
    if key not in _CATALOGUES:
        names: list[tuple[str, bool]] = []
        with h5py.File(path, "r") as nwb:
            nwb.visititems(lambda name, node: names.append((name, isinstance(node, h5py.Dataset))))
        _CATALOGUES[key] = [item for item in names if not item[0].startswith("specifications")]
    listed = _CATALOGUES[key]
    return [name for name, is_dataset in listed if kind is None or is_dataset == (kind is h5py.Dataset)]


def _pick(rng: np.random.Generator, items: list) -> object:  # noqa: ANN401 - any list element
    return items[int(rng.integers(len(items)))]


def truncate(path: Path, rng: np.random.Generator) -> str:
    data = path.read_bytes()
    keep = int(len(data) * rng.uniform(0.02, 0.999))
    path.write_bytes(data[:keep])
    return f"truncate to {keep} of {len(data)} bytes"


def flip_bytes(path: Path, rng: np.random.Generator) -> str:
    data = bytearray(path.read_bytes())
    offsets = rng.integers(0, len(data), int(rng.integers(1, 40)))
    for offset in offsets:
        data[offset] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))
    return f"flip {offsets.size} bytes anywhere"


def flip_dataset_bytes(path: Path, rng: np.random.Generator) -> str:
    """Flip bytes in a numeric dataset's stored data (string datasets hold heap addresses: HDF5 itself can take
    seconds to fail on a flipped one, so those are left to ``flip_bytes``)."""
    with h5py.File(path, "r") as nwb:
        stored = [(name, nwb[name].id.get_offset(), nwb[name].id.get_storage_size())
                  for name in _objects(path, h5py.Dataset)
                  if nwb[name].id.get_offset() is not None and nwb[name].dtype.kind in "biuf"]
    name, offset, size = _pick(rng, [item for item in stored if item[2] > 0])
    data = bytearray(path.read_bytes())
    for position in rng.integers(offset, offset + size, int(rng.integers(1, 16))):
        data[position] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))
    return f"flip bytes inside {name}"


def delete_object(path: Path, rng: np.random.Generator) -> str:
    name = _pick(rng, _objects(path))
    with h5py.File(path, "a") as nwb:
        del nwb[name]
    return f"delete {name}"


def delete_attribute(path: Path, rng: np.random.Generator) -> str:
    with h5py.File(path, "a") as nwb:
        owners = [name for name in _objects(path) if len(nwb[name].attrs)] + ["/"]
        owner = _pick(rng, owners)
        attribute = _pick(rng, list(nwb[owner].attrs))
        del nwb[owner].attrs[attribute]
    return f"delete attribute {owner}@{attribute}"


def _replace(path: Path, name: str, values: object) -> None:
    with h5py.File(path, "a") as nwb:
        attributes = dict(nwb[name].attrs)
        del nwb[name]
        dataset = nwb.create_dataset(name, data=values) if not isinstance(values, tuple) else nwb.create_dataset(
            name, shape=values, dtype="f8", chunks=True)
        for key, value in attributes.items():
            dataset.attrs[key] = value


def retype_dataset(path: Path, rng: np.random.Generator) -> str:
    name = _pick(rng, _objects(path, h5py.Dataset))
    with h5py.File(path, "r") as nwb:
        shape = nwb[name].shape
    n = int(np.prod(shape)) if shape else 1
    choices = {
        "strings": np.array(["oops"] * n, dtype=object).reshape(shape),
        "bools": (np.arange(n) % 2 == 0).reshape(shape),
        "int8": (np.arange(n) % 100).astype(np.int8).reshape(shape),
        "float16": np.linspace(-5, 5, n).astype(np.float16).reshape(shape),
        "complex": (np.arange(n) + 1j).reshape(shape),
    }
    kind = _pick(rng, list(choices))
    _replace(path, name, choices[kind])
    return f"retype {name} to {kind}"


def reshape_dataset(path: Path, rng: np.random.Generator) -> str:
    name = _pick(rng, _objects(path, h5py.Dataset))
    shapes: dict[str, object] = {
        "scalar": np.float64(3.5), "empty": np.zeros(0), "three columns": np.ones((7, 3)),
        "3-d": np.ones((4, 2, 2)), "a million rows": np.linspace(0, 100, 1_000_000),
        "declared 10**11 rows": (10**11,), "declared 10**6 x 10**6": (10**6, 10**6),
    }
    kind = _pick(rng, list(shapes))
    _replace(path, name, shapes[kind])
    return f"reshape {name} to {kind}"


def poison_values(path: Path, rng: np.random.Generator) -> str:
    names = [name for name in _objects(path, h5py.Dataset)
             if any(key in name for key in ("spike_times", "obs_intervals", "start_time", "stop_time", "timestamps",
                                            "starting_time", "data", "rois", "electrodes", "id"))]
    name = _pick(rng, names)
    with h5py.File(path, "r") as nwb:
        values = nwb[name][()]
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iuf" or values.size == 0:
        values = np.asarray(values)
        if values.dtype.kind not in "iuf":
            return f"poison {name} skipped (not numeric)"
    poison = _pick(rng, [np.nan, np.inf, -np.inf, -1.0, -1e9, 1e300, 2**40])
    values = np.array(values, dtype=np.float64 if isinstance(poison, float) else np.int64, copy=True, ndmin=1)
    flat = values.reshape(-1)
    chosen = rng.integers(0, flat.size, max(1, int(flat.size * rng.uniform(0.01, 0.5))))
    flat[chosen] = poison
    _replace(path, name, values.reshape(np.shape(values)) if values.ndim else values[0])
    return f"poison {chosen.size} values of {name} with {poison}"


def negative_durations(path: Path, rng: np.random.Generator) -> str:
    names = [name for name in _objects(path, h5py.Dataset) if name.endswith(("stop_time", "obs_intervals"))]
    if not names:
        return "negative durations skipped (no intervals)"
    name = _pick(rng, names)
    with h5py.File(path, "r") as nwb:
        values = nwb[name][()]
    if name.endswith("obs_intervals"):
        values = values[:, ::-1].copy()
    else:
        values = values - rng.uniform(1, 100)
    _replace(path, name, values)
    return f"negative durations in {name}"


def break_reference_or_rate(path: Path, rng: np.random.Generator) -> str:
    with h5py.File(path, "a") as nwb:
        targets = [name for name in _objects(path) if "table" in nwb[name].attrs or "rate" in nwb[name].attrs]
        name = _pick(rng, targets)
        node = nwb[name]
        if "table" in node.attrs:
            node.attrs["table"] = _pick(rng, [nwb["identifier"].ref, "not a reference", nwb.ref])
            return f"point {name}@table elsewhere"
        node.attrs["rate"] = _pick(rng, [0.0, -30.0, np.nan, "thirty"])
        return f"set {name}@rate to {node.attrs['rate']!r}"


def shuffle_rows(path: Path, rng: np.random.Generator) -> str:
    with h5py.File(path, "r") as nwb:
        names = [name for name in _objects(path, h5py.Dataset) if nwb[name].ndim >= 1 and nwb[name].shape[0] > 1]
    indices = [name for name in names if name.endswith(("_index", "rois", "electrodes"))]
    name = _pick(rng, indices or names)
    with h5py.File(path, "r") as nwb:
        values = nwb[name][()]
    _replace(path, name, rng.permutation(values))
    return f"shuffle {name}"


MUTATIONS: list[Mutation] = [truncate, flip_bytes, flip_dataset_bytes, delete_object, delete_attribute,
                             retype_dataset, reshape_dataset, poison_values, negative_durations,
                             break_reference_or_rate, shuffle_rows]


@contextmanager
def alarm(seconds: int, case: str) -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"hang: {case}")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def base_files(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("fuzz")
    spikes = write_nwbfile(make_spikes_nwbfile(n_units=4, duration=12.0, obs_intervals=WINDOWS, n_trials=4),
                           folder / "spikes.nwb")
    ophys = write_nwbfile(make_ophys_nwbfile(n_rois=3, n_frames=120), folder / "ophys.nwb")
    return [spikes.read_bytes(), ophys.read_bytes()]


@pytest.mark.slow
def test_mutated_files_end_in_a_clear_error_or_a_valid_recording(base_files: list[bytes], tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED)
    outcomes = {"recording": 0, "NeurPIRError": 0, "with warnings": 0}
    failures: list[str] = []
    for case in range(N_CASES):
        path = tmp_path / f"case{case}.nwb"
        path.write_bytes(base_files[case % 2])
        mutation = MUTATIONS[case % len(MUTATIONS)]
        description = f"case {case} ({['spikes', 'ophys'][case % 2]}): {mutation(path, rng)}"
        started = time.perf_counter()
        try:
            with alarm(CASE_TIMEOUT_S, description), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                recording = read_nwb(path, keep_spike_times=bool(case % 3 == 0))
            assert isinstance(recording, Recording) and recording.n_neurons > 0 and recording.n_bins > 0
            assert np.all(np.diff(recording.bin_times) > 0) and np.isfinite(recording.activity).all()
            assert all(np.isfinite(values).all() for values in recording.covariates.values())
            outcomes["recording"] += 1
            outcomes["with warnings"] += bool(caught)
        except NeurPIRError as error:
            assert error.source == str(path) and "\n" not in error.one_line()
            outcomes["NeurPIRError"] += 1
        except Exception as error:  # noqa: BLE001 - the point of the test is to catch any other type
            failures.append(f"{description} -> {type(error).__name__}: {error}")
        path.unlink(missing_ok=True)
        if time.perf_counter() - started > 1.0:
            print(f"slow {time.perf_counter() - started:.1f} s: {description}")
    print(f"fuzz: {N_CASES} cases, {outcomes}")
    assert not failures, f"{len(failures)} of {N_CASES} cases escaped:\n" + "\n".join(failures)
    # A mix, or the mutations (or the reader) are broken: with this seed about 70 % still read, 30 % are refused.
    assert outcomes["recording"] >= N_CASES // 10 and outcomes["NeurPIRError"] >= N_CASES // 10, outcomes
