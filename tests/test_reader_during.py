"""``during`` (``--during TABLE[:COLUMN=VALUE,...]``) reads only the time inside chosen intervals of an interval
table: a sleep session read during its NREM epochs is the same session with the NREM epochs as its ``obs_intervals``
-- activity, covariates, vectors. Bad selections, a list of time ranges and a time range off the file's clock are
one-line errors naming the file. Real NWB files written with pynwb."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import nwb_neurpir as npir
from nwb_neurpir.cli.app import app
from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.recording import Recording
from nwb_neurpir.store import read_embeddings, read_predictions
from nwb_neurpir.testing import make_ophys_nwbfile, tiny_config, write_nwbfile
from sleep_files import sleep_session

runner = CliRunner()


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sleep")
    return {variant: sleep_session(folder, variant) for variant in ("staged", "nrem")}


def _read(path: Path, **options: object) -> Recording:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the selection reads without a warning
        return read_nwb(path, **options)


@pytest.mark.parametrize("during", ["epochs:stage=NREM", "epochs:stage_code=1", " epochs : stage = NREM "])
def test_reading_during_the_nrem_epochs_reads_them_as_obs_intervals(sessions: dict[str, Path], during: str) -> None:
    chosen, cut = _read(sessions["staged"], during=during, keep_spike_times=True), _read(sessions["nrem"],
                                                                                          keep_spike_times=True)
    np.testing.assert_allclose(chosen.bin_times, cut.bin_times, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(chosen.activity, cut.activity)
    assert chosen.covariates.keys() == cut.covariates.keys()
    for name, values in cut.covariates.items():
        np.testing.assert_array_equal(chosen.covariates[name], values, err_msg=name)
    for left, right in zip(chosen.spike_times, cut.spike_times):
        np.testing.assert_array_equal(left, right)
    assert chosen.observed_seconds == pytest.approx(35.0) and chosen.epoch_starts().size == 2
    assert chosen.during == during.replace(" ", "") and cut.during is None
    assert chosen.neuron_selection()["during"] == chosen.during and "during" not in cut.neuron_selection()


def test_during_a_whole_table_and_several_values(sessions: dict[str, Path]) -> None:
    (trials,) = npir.open_recordings(sessions["staged"], during="trials", progress=False)
    assert trials.observed_seconds == pytest.approx(4.0) and trials.epoch_starts().size == 4
    asleep = _read(sessions["staged"], during="epochs:stage=NREM,REM")
    assert asleep.observed_seconds == pytest.approx(45.0) and asleep.epoch_starts().size == 1


def test_embedding_during_nrem_equals_embedding_the_nrem_copy(sessions: dict[str, Path], tmp_path: Path) -> None:
    folder = npir.NeurPIR(**tiny_config(max_steps=2).to_dict()).fit(sessions["nrem"], progress=False).save(
        tmp_path / "model")
    vectors = {}
    for name, options in (("during", [str(sessions["staged"]), "--during", "epochs:stage=NREM"]),
                          ("cut", [str(sessions["nrem"])]), ("all", [str(sessions["staged"])])):
        result = runner.invoke(app, ["embed", str(folder), *options, "--json", "--threads", "1"])
        assert result.exit_code == 0, result.output
        vectors[name] = np.array(json.loads(result.stdout)["recordings"][0]["embeddings"], dtype=np.float64)
    np.testing.assert_array_equal(vectors["during"], vectors["cut"])
    assert not np.allclose(vectors["all"], vectors["cut"])


def test_train_and_annotate_record_the_time_they_read(sessions: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(tiny_config(max_steps=2).to_json())
    trained = runner.invoke(app, ["train", str(sessions["staged"]), "--during", "epochs:stage=NREM", "--out",
                                  str(tmp_path / "model"), "--config", str(config), "--no-progress"])
    assert trained.exit_code == 0, trained.output
    (session,) = json.loads((tmp_path / "model" / "model.json").read_text())["training"]["sessions"]
    assert session["during"] == "epochs:stage=NREM"
    model = npir.NeurPIR.load(tmp_path / "model")
    (outcome,) = npir.annotate(model, sessions["staged"], output_dir=tmp_path / "out", during="epochs:stage=NREM",
                               progress=False)
    stored = read_embeddings(outcome.path).attrs["model"]
    assert stored["hyperparameters"]["embedding"]["during"] == "epochs:stage=NREM"
    assert "Only the time during epochs:stage=NREM was read." in stored["description"]
    (same,) = npir.annotate(model, outcome.path, during="epochs:stage=NREM", progress=False)
    assert same.status == "unchanged"
    (other,) = npir.annotate(model, outcome.path, progress=False, raise_on_failure=False)  # all the time: not these
    assert other.status == "failed" and "--overwrite" in other.error


@pytest.mark.parametrize(("during", "problem"), [
    ("sleep", "during sleep: no interval table 'sleep' in /intervals (its interval tables: epochs, trials)"),
    ("epochs:stages=NREM", "during epochs:stages=NREM: intervals/epochs has no column 'stages' (its columns: stage, "
                           "stage_code)"),
    ("epochs:stage=nrem,REM", "during epochs:stage=nrem,REM: no row of intervals/epochs has stage = nrem (its values: "
                              "NREM, REM, after, wake)"),
    ("epochs:stage_code=7", "during epochs:stage_code=7: no row of intervals/epochs has stage_code = 7 (its values: "
                            "0, 1, 2, 3)"),
    ("epochs:stage=after", "during epochs:stage=after: its 1 interval between 3670 and 3680 s holds no observed time "
                           "(the file's observed time lies between 3600 and 3660 s)"),
    ("epochs:stage", "during must be TABLE or TABLE:COLUMN=VALUE[,VALUE...] (an interval table of the file, e.g. "
                     "trials or epochs:stage=NREM), not 'epochs:stage'"),
])
def test_a_selection_that_reads_nothing_is_a_one_line_error_naming_the_file(sessions: dict[str, Path], during: str,
                                                                            problem: str) -> None:
    with pytest.raises(NeurPIRError) as caught:
        read_nwb(sessions["staged"], during=during)
    assert str(caught.value) == f"{sessions['staged']}: {problem}"


def test_time_ranges_say_what_to_do_and_where_the_observed_time_lies(sessions: dict[str, Path]) -> None:
    with pytest.raises(NeurPIRError, match=r"staged\.nwb: time range must be one window \(start, stop\), not several "
                                           r"\(\[\(3610, 3630\), \(3640, 3655\)\]\); to read several periods, name "
                                           r"them in an interval table and read during them \(--during, "
                                           r"during='epochs:stage=NREM'\)$"):
        read_nwb(sessions["staged"], time_range=[(3610, 3630), (3640, 3655)])
    with pytest.raises(NeurPIRError, match=r"staged\.nwb: no observed time to bin in the time range \(10, 30\) \(bin "
                                           r"size 0\.01 s\); the file's observed time lies between 3600 and 3660 s$"):
        read_nwb(sessions["staged"], time_range=(10, 30))


def test_a_text_column_of_any_interval_table_is_named_when_asked_for_as_a_covariate(sessions: dict[str, Path],
                                                                                   tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", str(sessions["staged"]), "--out", str(tmp_path / "model"), "--max-steps",
                                 "1", "--threads", "1", "--covariates", "epochs/stage"])
    assert result.exit_code == 1
    assert ("context_covariates: epochs/stage matches none of the training recordings' covariates (" in result.output
            and "); epochs/stage is a text column, and text columns are not covariates (only numeric ones are)"
            in result.output)


def test_the_commands_take_during_once_and_inspect_shows_it(sessions: dict[str, Path]) -> None:
    shown = runner.invoke(app, ["inspect", str(sessions["staged"]), "--during", "epochs:stage=NREM"])
    assert shown.exit_code == 0, shown.output
    assert ("10 units with spike times from /units; observed 35.0 s during epochs:stage=NREM in 2 windows between "
            "3610.0 and 3655.0 s") in shown.stdout
    for command in ("inspect", "train", "embed", "annotate", "predict", "evaluate"):
        helped = runner.invoke(app, [command, "--help"], terminal_width=200)
        assert "--during" in helped.stdout, command
    twice = runner.invoke(app, ["inspect", str(sessions["staged"]), "--during", "trials", "--during", "epochs"])
    assert twice.exit_code == 1
    assert "--during is given 2 times; name several values in one (epochs:stage=NREM,REM)" in twice.output
    malformed = runner.invoke(app, ["embed", "no-model", str(sessions["staged"]), "--during", ":stage=NREM"])
    assert malformed.exit_code == 1 and "during must be TABLE or TABLE:COLUMN=VALUE" in malformed.output


@pytest.mark.filterwarnings("ignore::UserWarning")  # the probe is fitted on the NREM copy of the same session
def test_predict_during_nrem_predicts_as_for_the_nrem_copy(sessions: dict[str, Path], tmp_path: Path) -> None:
    model = npir.NeurPIR(**tiny_config(max_steps=2).to_dict()).fit(sessions["nrem"], progress=False)
    (annotated,) = npir.annotate(model, sessions["nrem"], output_dir=tmp_path / "fit", progress=False)
    probe = npir.LabelProbe("cell_type").fit([annotated.path])
    predicted = {}
    for name, source, during in (("during", sessions["staged"], "epochs:stage=NREM"), ("cut", sessions["nrem"], None)):
        (outcome,) = npir.predict(probe, source, model=model, output_dir=tmp_path / name, during=during,
                                  progress=False)
        predicted[name] = outcome.path
    np.testing.assert_array_equal(*(np.stack(read_predictions(path)["probability"]) for path in predicted.values()))
    stored = read_embeddings(predicted["during"]).attrs["model"]
    assert stored["hyperparameters"]["embedding"]["during"] == "epochs:stage=NREM"


def test_calcium_frames_are_read_during_the_chosen_intervals(tmp_path: Path) -> None:
    nwbfile = make_ophys_nwbfile(n_rois=4, n_frames=300, rate=30.0)
    nwbfile.add_epoch(start_time=2.0, stop_time=4.0)
    nwbfile.add_epoch(start_time=6.0, stop_time=7.0)
    path = write_nwbfile(nwbfile, tmp_path / "ophys.nwb")
    recording = _read(path, during="epochs")
    assert recording.n_bins == 90 and recording.epoch_starts().size == 2
    assert recording.bin_times[0] >= 2.0 and recording.bin_times[-1] + recording.bin_size <= 7.0 + 1e-9
    with pytest.raises(NeurPIRError, match=r"ophys\.nwb: .* has no valid frame in the time range \(20, 30\); the "
                                           r"file's observed time lies between 0 and 10 s$"):
        read_nwb(path, time_range=(20, 30))
