"""A Suite2p conversion's calcium file as neuroconv writes it: two planes imaged at different rates, ROIs the
segmentation rejected (``Accepted``/``Rejected``, Suite2p's two-valued ``iscell``) and a ``Deconvolved`` container
beside ``Fluorescence``. A plane is not spread over bins shorter than its frames, rejected ROIs are named with the
filter that leaves them out, ``iscell[0]`` filters, and deconvolved traces are not read by default."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.io.read_warnings import NWBReadWarning

RATES = (15.0, 10.0)
"""Plane 0 and plane 1's frame rates."""
ACCEPTED = (np.array([1, 1, 0, 1, 1, 0]), np.array([1, 0, 1, 1, 1]))
"""Which ROIs of each plane the segmentation accepted."""


def suite2p_file(folder: Path) -> Path:
    """Plane ``k`` (``PlaneSegmentationPlane<k>``, ``ACCEPTED[k]`` ROIs at ``RATES[k]`` Hz for 60 s) with ``Accepted``,
    ``Rejected`` and a two-valued ``iscell`` column, its ROI traces in ``Fluorescence`` and its deconvolved traces,
    under the same name, in a ``Deconvolved`` container (which sorts before ``Fluorescence``)."""
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel

    from nwb_neurpir.testing import make_ophys_nwbfile, write_nwbfile

    nwbfile = make_ophys_nwbfile(n_rois=2, n_frames=30, with_context=False)
    device = nwbfile.devices["microscope"]
    ophys = nwbfile.create_processing_module("suite2p", "a Suite2p conversion (the module name is not the point)")
    segmentation = ImageSegmentation(name="ImageSegmentation")
    fluorescence, deconvolved = Fluorescence(name="Fluorescence"), Fluorescence(name="Deconvolved")
    for container in (segmentation, fluorescence, deconvolved):
        ophys.add(container)
    nwbfile.processing.pop("ophys")
    rng = np.random.default_rng(0)
    for plane, (rate, accepted) in enumerate(zip(RATES, ACCEPTED)):
        imaging_plane = nwbfile.create_imaging_plane(
            name=f"ImagingPlane{plane}", optical_channel=OpticalChannel(name="green", description="green",
                                                                        emission_lambda=520.0),
            imaging_rate=rate, description=f"plane {plane}", device=device, excitation_lambda=920.0,
            indicator="GCaMP6s", location="VISp")
        rois = segmentation.create_plane_segmentation(name=f"PlaneSegmentationPlane{plane}", description="suite2p",
                                                      imaging_plane=imaging_plane)
        rois.add_column("Accepted", "1 if the ROI was accepted as a cell")
        rois.add_column("Rejected", "1 if the ROI was rejected as a cell")
        rois.add_column("iscell", "Suite2p's iscell: is-cell flag and classifier probability")
        for index, flag in enumerate(accepted):
            rois.add_roi(image_mask=np.eye(8, dtype=np.float32) * (index + 1), Accepted=int(flag),
                         Rejected=int(1 - flag), iscell=[float(flag), 0.2 + 0.6 * flag])
        n_frames = int(60 * rate)
        for container, values in ((fluorescence, rng.gamma(2.0, size=(n_frames, accepted.size))),
                                  (deconvolved, np.zeros((n_frames, accepted.size)))):
            container.create_roi_response_series(
                name=f"RoiResponseSeriesPlane{plane}", data=values.astype(np.float32), unit="a.u.", rate=rate,
                rois=rois.create_roi_table_region(region=list(range(accepted.size)), description="all ROIs"))
    return write_nwbfile(nwbfile, folder / "suite2p.nwb")


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return suite2p_file(tmp_path_factory.mktemp("suite2p"))


def read_quietly(path: Path, **options: object) -> tuple[object, list[str]]:
    """The recording and the messages of the reader's warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recording = read_nwb(path, **options)
    return recording, [str(warning.message) for warning in caught if warning.category is NWBReadWarning]


def test_a_plane_is_refused_on_bins_shorter_than_its_frames(path: Path) -> None:
    with pytest.raises(NeurPIRError, match=r"suite2p.nwb: processing/suite2p/Fluorescence/RoiResponseSeriesPlane1 "
                                           r"has a frame every 100 ms \(10 Hz\), longer than the 66.67 ms bins .* "
                                           r"embedded by a model trained at that rate$"):
        read_nwb(path, series="PlaneSegmentationPlane1", bin_size=1 / 15)
    slower = read_nwb(path, series="PlaneSegmentationPlane1", bin_size=1 / 9.9)  # within the tolerance
    assert slower.n_bins == 594
    plane0 = read_nwb(path, series="PlaneSegmentationPlane0", bin_size=0.1)  # longer bins average frames
    assert plane0.n_bins == 600 and plane0.observed is None


def test_embed_refuses_a_plane_imaged_slower_than_the_models_grid(path: Path, tmp_path: Path) -> None:
    from nwb_neurpir.model import train
    from nwb_neurpir.testing import tiny_config

    plane0, _ = read_quietly(path, series="PlaneSegmentationPlane0")
    train([plane0], tiny_config(context="none", batch_size=4), out_dir=tmp_path / "model", progress=False)
    result = CliRunner().invoke(app, ["embed", str(tmp_path / "model"), str(path), "--series",
                                      "PlaneSegmentationPlane1", "--out", str(tmp_path / "e.csv"), "--no-progress"])
    assert result.exit_code == 1 and not (tmp_path / "e.csv").exists()
    (line,) = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert "has a frame every 100 ms (10 Hz), longer than the 66.67 ms bins" in line and "model trained" in line


def test_rejected_rois_are_counted_once_with_the_filter_that_leaves_them_out(path: Path) -> None:
    recording, messages = read_quietly(path, series="PlaneSegmentationPlane0")
    assert recording.n_neurons == 6
    (message,) = [m for m in messages if "rejected" in m]
    assert message.startswith(f"{path}: 2 of 6 ROIs read from processing/suite2p/ImageSegmentation/"
                              "PlaneSegmentationPlane0 were rejected as cells by the segmentation (Accepted == 0)")
    assert "--filter 'Accepted == 1'" in message
    kept, messages = read_quietly(path, series="PlaneSegmentationPlane0", unit_filter="Accepted == 1")
    assert kept.n_neurons == 4 and not [m for m in messages if "rejected" in m]


def test_suite2p_iscell_filters_by_its_flag_and_says_how(path: Path) -> None:
    recording, _ = read_quietly(path, series="PlaneSegmentationPlane1", unit_filter="iscell[0] == 1")
    np.testing.assert_array_equal(recording.neuron_ids, np.flatnonzero(ACCEPTED[1]))
    np.testing.assert_allclose(recording.neuron_metadata["iscell[1]"], 0.8)
    for expression, expected in (("iscell == 1", r"column 'iscell' holds 2 values per row .* compare one of them: "
                                                 r"iscell\[0\], iscell\[1\]"),
                                 ("nope == 1", r"no column 'nope' \(columns: .*iscell\[0\], iscell\[1\]"),
                                 ("iscell[2] == 1", r"no column 'iscell\[2\]'"),
                                 ("iscell['a'] == 1", "Subscript is not allowed")):
        with pytest.raises(NeurPIRError, match=expected):
            read_nwb(path, series="PlaneSegmentationPlane1", unit_filter=expression)


def test_a_deconvolved_container_is_not_read_by_default(path: Path) -> None:
    recording, messages = read_quietly(path)
    assert recording.activity_series == "processing/suite2p/Fluorescence/RoiResponseSeriesPlane0"
    assert recording.activity.any()
    (other,) = [m for m in messages if "other segmentations" in m]
    assert other.endswith("not read: processing/suite2p/Fluorescence/RoiResponseSeriesPlane1 (choose one with "
                          "--series, series=...)")
    plane1, _ = read_quietly(path, series="PlaneSegmentationPlane1")
    assert plane1.activity_series == "processing/suite2p/Fluorescence/RoiResponseSeriesPlane1"
    deconvolved, _ = read_quietly(path, series="Deconvolved/RoiResponseSeriesPlane0")
    assert not deconvolved.activity.any()
