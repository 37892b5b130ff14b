"""Units without spikes, written by pynwb as a failed or partial spike sorting leaves them: a file whose units all
lack spikes is skipped among many and an error alone; units without spikes in a file that has others are marked
``silent`` wherever their (uninformative) vectors go, and left out of the figures."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pynwb import NWBHDF5IO, validate
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NoSpikes
from nwb_neurpir.store import read_embeddings
from nwb_neurpir.testing import make_spikes_nwbfile, tiny_config, write_nwbfile

runner = CliRunner()
OLD_FILES = sorted((Path(__file__).resolve().parents[1] / "extensions/ndx-neurpir/src/pynwb/tests/old_versions")
                   .glob("ndx-neurpir-*.nwb"))
SILENT_IDS = [12, 13]
"""The ids of the units without spikes in ``s1.nwb`` (after its 12 units with spikes)."""


def _sorting(path: Path, n_spiking: int, n_silent: int, seed: int) -> Path:
    """A pynwb file of ``n_spiking`` Poisson units (``quality`` good or mua) then ``n_silent`` units without spike
    times (``quality`` noise), as a spike sorter exports them."""
    nwbfile = make_spikes_nwbfile(n_units=n_spiking, duration=30.0, seed=seed, subject_id=f"mouse{seed}",
                                  session_id=f"ses{seed}", with_electrodes=False)
    for _ in range(n_silent):
        nwbfile.add_unit(spike_times=np.zeros(0), brain_area="CA1", quality="noise")
    return write_nwbfile(nwbfile, path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sortings (the second with two units without spikes) and one whose units all lack spikes."""
    data = tmp_path_factory.mktemp("sortings")
    _sorting(data / "s0.nwb", 12, 0, seed=0)
    _sorting(data / "s1.nwb", 12, len(SILENT_IDS), seed=1)
    _sorting(data / "failed.nwb", 0, 3, seed=2)
    return data


@pytest.fixture(scope="module")
def model_dir(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on the folder: the file without spikes is skipped with a warning."""
    run = tmp_path_factory.mktemp("run")
    config = run / "config.json"
    config.write_text(tiny_config(segment_length_min=1.0, segment_length_max=4.0).to_json())
    done = runner.invoke(app, ["train", str(folder), "--out", str(run / "model"), "--config", str(config),
                               "--max-steps", "2", "--no-progress"])
    assert done.exit_code == 0, done.output
    assert "failed.nwb: all 3 units have no spikes (a failed spike sorting?); skipped" in done.output
    assert "trained 2 steps on 2 recordings" in done.output
    return run / "model"


def test_a_file_whose_units_all_lack_spikes_is_skipped_among_many_and_an_error_alone(folder: Path) -> None:
    with pytest.warns(UserWarning, match=r"failed.nwb: all 3 units have no spikes \(a failed spike sorting\?\); "
                                         "skipped"):
        read = npir.open_recordings([folder], progress=False)
    assert sorted(Path(r.source.location).name for r in read) == ["s0.nwb", "s1.nwb"]
    with pytest.raises(NoSpikes, match=r"failed.nwb: all 3 units have no spikes \(a failed spike sorting\?\)$"):
        npir.open_recordings([folder / "failed.nwb"], progress=False)
    noise = 'quality == "noise"'
    with pytest.raises(NoSpikes, match="s1.nwb: all 2 units the filter keeps have no spikes"):
        npir.open_recordings([folder / "s1.nwb"], progress=False, unit_filter=noise)
    with pytest.warns(UserWarning, match="failed.nwb: all 3 units the filter keeps have no spikes"):
        assert [r.n_neurons for r in npir.open_recordings([folder / "failed.nwb", folder / "s0.nwb"],
                                                          progress=False, unit_filter='quality != "mua"')] == [8]


def test_train_skips_a_file_whose_units_all_lack_spikes(model_dir: Path) -> None:
    assert len(json.loads((model_dir / "model.json").read_text())["training_data"]) == 2  # s0 and s1


def test_inspect_says_a_file_holds_units_without_spikes(folder: Path) -> None:
    holds = {Path(f["source"]).name: (f["holds"], f.get("message", "")) for f in npir.inspect(folder).files}
    assert holds["failed.nwb"][0] == "units without spikes" and "all 3 units have no spikes" in holds["failed.nwb"][1]
    assert holds["s1.nwb"][0] == "units"
    shown = runner.invoke(app, ["inspect", str(folder / "failed.nwb"), "--no-progress"])
    assert shown.exit_code == 0, shown.output
    assert "holds units without spikes: not read -- all 3 units have no spikes" in shown.output


def test_embed_marks_the_units_without_spikes_silent_and_keeps_their_vectors(model_dir: Path, folder: Path,
                                                                            tmp_path: Path) -> None:
    files = [str(folder / "s0.nwb"), str(folder / "s1.nwb")]
    expected = [False] * 24 + [True] * 2
    done = runner.invoke(app, ["embed", str(model_dir), *files, "--out", str(tmp_path / "e.npz"), "--no-progress"])
    assert done.exit_code == 0, done.output
    assert "s1.nwb: 14 neurons -> 8-d (2 without activity, marked silent)" in done.output
    with np.load(tmp_path / "e.npz") as data:
        assert data["silent"].tolist() == expected and data["silent"].dtype == bool
        vectors = data["embeddings"]
    assert np.isfinite(vectors).all()  # the vectors themselves are as computed: no NaN
    done = runner.invoke(app, ["embed", str(model_dir), *files, "--out", str(tmp_path / "e.csv"), "--no-progress"])
    assert done.exit_code == 0, done.output
    table = pd.read_csv(tmp_path / "e.csv")
    assert list(table.columns[:5]) == ["subject_id", "session_id", "neuron_id", "neuron_table", "silent"]
    assert table["silent"].tolist() == expected
    assert table.loc[table["silent"], "neuron_id"].tolist() == SILENT_IDS
    np.testing.assert_allclose(table[[f"embedding_{i}" for i in range(8)]].to_numpy(), vectors, rtol=1e-6)
    shown = json.loads(runner.invoke(app, ["embed", str(model_dir), files[1], "--json", "--no-progress"]).stdout)
    assert shown["recordings"][0]["silent"] == expected[12:]


def test_annotate_stores_the_silent_column_in_place_and_in_sidecars(model_dir: Path, folder: Path,
                                                                  tmp_path: Path) -> None:
    done = runner.invoke(app, ["annotate", str(model_dir), str(folder), "--out", str(tmp_path / "copies"),
                               "--no-progress"])
    assert done.exit_code == 0, done.output
    assert "1 skipped (sidecars, no neurons or spikes, or the other modality)" in done.output
    assert "s1.nwb (2 without activity, marked silent)" in done.output and "s0.nwb (" not in done.output
    copy = tmp_path / "copies" / "s1.nwb"
    frame = read_embeddings(copy)
    assert frame["silent"].dtype == bool and frame.loc[frame["silent"], "neuron_id"].tolist() == SILENT_IDS
    assert np.isfinite(np.stack(frame["embedding"])).all()
    assert validate(path=str(copy)) == []
    with NWBHDF5IO(str(copy), "r") as io:  # pynwb reads the column as the extension declares it
        assert io.read().processing["neurpir"]["NeurPIREmbeddings"]["silent"].data[:].tolist() == [False] * 12 + \
            [True] * 2
    done = runner.invoke(app, ["annotate", str(model_dir), str(folder / "s1.nwb"), "--sidecar", "--out",
                               str(tmp_path / "sidecars"), "--no-progress"])
    assert done.exit_code == 0, done.output
    (sidecar,) = (tmp_path / "sidecars").rglob("*.nwb")
    beside = npir.read_embeddings(sidecar)
    assert beside["silent"].tolist() == [False] * 12 + [True] * 2 and "unit_silent" not in beside


def test_transform_marks_silent_neurons_and_plots_leave_them_out(model_dir: Path, folder: Path,
                                                                 tmp_path: Path) -> None:
    frame = npir.NeurPIR.load(model_dir).transform([folder / "s0.nwb", folder / "s1.nwb"], progress=False)
    assert frame.loc[frame["silent"], "neuron_id"].tolist() == SILENT_IDS
    assert np.isfinite(np.stack(frame["embedding"])).all()  # silent neurons too: finite vectors, as documented
    with pytest.warns(UserWarning, match="2 of 26 neurons have no activity in the time read .* left out of the "
                                         "figure"):
        figure = npir.plot_embeddings(frame, projection="pca")
    assert sum(len(collection.get_offsets()) for collection in figure.axes[0].collections) == 24
    done = runner.invoke(app, ["annotate", str(model_dir), str(folder / "s1.nwb"), "--out", str(tmp_path),
                               "--no-progress"])
    assert done.exit_code == 0, done.output
    drawn = runner.invoke(app, ["plot", str(tmp_path), "--projection", "pca", "--out", str(tmp_path / "u.png"),
                                "--json", "--no-progress"])
    assert drawn.exit_code == 0, drawn.output
    assert json.loads(drawn.stdout)["n_neurons"] == 12
    assert "warning: 2 of 14 neurons have no activity in the time read" in drawn.stderr


@pytest.mark.parametrize("old_file", OLD_FILES, ids=[path.stem for path in OLD_FILES])
def test_embeddings_written_before_the_column_read_as_before(old_file: Path) -> None:
    frame = read_embeddings(old_file)
    assert "silent" not in frame.columns and len(frame) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is left out, nothing to warn about
        figure = npir.plot_embeddings(old_file, projection="pca", normalize="none")
    assert sum(len(collection.get_offsets()) for collection in figure.axes[0].collections) == 6


def test_a_units_column_named_silent_is_read_as_unit_silent(tmp_path: Path) -> None:
    nwbfile = make_spikes_nwbfile(n_units=4, duration=5.0, with_context=False)
    nwbfile.add_unit_column("silent", "the sorter's own flag", data=[False, True, False, False])
    path = write_nwbfile(nwbfile, tmp_path / "own.nwb")
    with pytest.warns(UserWarning, match="column\\(s\\) silent are read as unit_silent"):
        (recording,) = npir.open_recordings([path], progress=False)
    assert recording.neuron_metadata["unit_silent"].tolist() == [False, True, False, False]
    assert not recording.silent().any()


@pytest.fixture(scope="module")
def annotated(model_dir: Path, folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Annotated copies of the two sortings; in s1.nwb the stored vector of unit 0 is NaN (a damaged vector)."""
    import h5py

    out = tmp_path_factory.mktemp("annotated")
    done = runner.invoke(app, ["annotate", str(model_dir), str(folder / "s0.nwb"), str(folder / "s1.nwb"), "--out",
                               str(out), "--no-progress"])
    assert done.exit_code == 0, done.output
    with h5py.File(out / "s1.nwb", "r+") as file:
        file["processing/neurpir/NeurPIREmbeddings/embedding"][0] = np.nan
    return out


def test_evaluate_leaves_silent_neurons_out_of_its_figure_and_names_non_finite_vectors(annotated: Path) -> None:
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        result = npir.evaluate(annotated, label="brain_area", methods="neurpir,hand", progress=False)
    assert not [w for w in heard if "figure" in str(w.message)]  # no figure drawn yet
    assert result.dropped == {"<non-finite vector>": 1} and result.n_labelled == 25  # silent ones still scored
    with pytest.warns(UserWarning, match="2 of 25 neurons have no activity in the time read .* left out of the "
                                         "figure"):
        figure = result.plot("embeddings", projection="pca")
    assert sum(len(collection.get_offsets()) for collection in figure.axes[0].collections) == 23
    assert figure.axes[0].get_title() == ("by brain_area\n23 of 26 neurons shown; 3 left out (2 silent, "
                                          "1 non-finite vector)")
    alone = npir.evaluate(annotated, label="brain_area", methods="neurpir", progress=False)
    assert alone.dropped == {"<non-finite vector>": 1}


def test_evaluate_warns_about_silent_neurons_left_out_of_a_figure_only_when_it_draws_one(annotated: Path,
                                                                                       tmp_path: Path) -> None:
    told = "left out of the figure"
    base = ["evaluate", str(annotated), "--label", "brain_area", "--methods", "neurpir,hand", "--no-progress"]
    for extra in (["--out", str(tmp_path / "bare"), "--no-plots"], ["--json"]):
        done = runner.invoke(app, [*base, *extra])
        assert done.exit_code == 0, done.output
        assert told not in done.output
    drawn = runner.invoke(app, [*base, "--out", str(tmp_path / "drawn"), "--projection", "pca"])
    assert drawn.exit_code == 0 and (tmp_path / "drawn" / "umap.png").exists()
    assert "2 of 25 neurons have no activity in the time read" in drawn.output and told in drawn.output


def test_plot_titles_count_every_neuron_left_out_by_reason(annotated: Path) -> None:
    with pytest.warns(UserWarning):
        figure = npir.plot_embeddings(annotated, color_by="brain_area", projection="pca")
    assert figure.axes[0].get_title() == ("by brain_area\n23 of 26 neurons shown; 3 left out (2 silent, "
                                          "1 non-finite vector)")
    frame = npir.read_embeddings(annotated)
    frame.loc[frame["neuron_id"] == 5, "brain_area"] = None
    with pytest.warns(UserWarning):
        figure = npir.plot_embeddings(frame, color_by="brain_area", projection="pca")
    assert figure.axes[0].get_title().endswith("21 of 26 neurons shown; 5 left out (2 silent, 1 non-finite vector, "
                                               "2 no brain_area)")


def test_to_pynapple_carries_the_silent_marker_and_renames_a_units_own_silent_column(model_dir: Path,
                                                                                     annotated: Path,
                                                                                     tmp_path: Path) -> None:
    units = npir.to_pynapple(annotated / "s1.nwb")
    assert units.metadata["silent"].tolist() == [False] * 12 + [True] * 2
    path = _sorting(tmp_path / "own.nwb", 12, 0, seed=3)
    with NWBHDF5IO(str(path), "a") as io:
        nwbfile = io.read()
        nwbfile.units.add_column("silent", "the sorter's own flag", data=[1] + [0] * 11)  # pynapple skips bools
        io.write(nwbfile)
    done = runner.invoke(app, ["annotate", str(model_dir), str(path), "--no-progress"])
    assert done.exit_code == 0, done.output
    assert ("column(s) silent are read as unit_silent: the package gives those names to its own columns (silent: "
            "whether the neuron has no activity in the time read (its vector says nothing about it))") in done.output
    assert "subject_id" not in done.output
    units = npir.to_pynapple(path)
    assert units.metadata["unit_silent"].tolist() == [1] + [0] * 11
    assert units.metadata["silent"].tolist() == [False] * 12


def test_wording_of_silent_units_filters_and_figure_resolution(annotated: Path, folder: Path) -> None:
    with pytest.warns(UserWarning, match=r"2 units have no spikes \(ids 12, 13\); they are kept as all-zero rows "
                                         r"\(marked silent when embedded\)$"):
        npir.open_recordings([folder / "s1.nwb"], progress=False)
    shown = runner.invoke(app, ["inspect", str(annotated / "s1.nwb"), "--no-progress"])
    assert "14 neurons of /units (2 without activity, marked silent), model" in shown.output
    plot = " ".join(runner.invoke(app, ["plot", "--help"], terminal_width=200).output.split())
    assert "plot embeds nothing" in plot and "filtering changes" not in plot and "PNG/JPEG" in plot
    evaluate = " ".join(runner.invoke(app, ["evaluate", "--help"], terminal_width=200).output.split())
    assert "Resolution of the PNG figures" in evaluate and "JPEG" not in evaluate
    assert "``dpi``" in npir.evaluate.__doc__
