"""The hand features beside the NeurPIR vectors are computed and z-scored among the neurons that have a vector (the
ROIs a curation ``--filter`` kept when annotating), never among the recording's other ROIs: when the label probe is
fitted and predicts, and in ``evaluate``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reader_files import curated_ophys_file

from nwb_neurpir.evaluation.features import feature_matrix, hand_features
from nwb_neurpir.io.nwb_reader import read_nwb
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.store import write_embeddings
from nwb_neurpir.workflows.embeddings import read_embeddings
from nwb_neurpir.workflows.probe_inputs import frame_hand_features, recording_hand_features, zscored_per_recording

ACCEPTED = "Accepted == 1"


@pytest.fixture(scope="module")
def annotated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three animals' curated sessions (``curated_ophys_file``), each holding vectors of its accepted ROIs only, as
    ``annotate --filter 'Accepted == 1'`` writes them (random: what is checked is which neurons go with them)."""
    folder = tmp_path_factory.mktemp("curated")
    paths = [curated_ophys_file(folder, subject, seed) for seed, subject in enumerate("abc")]
    for seed, path in enumerate(paths):
        ids = read_nwb(path, unit_filter=ACCEPTED).neuron_ids
        vectors = np.random.default_rng(seed).normal(size=(ids.size, 4)).astype(np.float32)
        write_embeddings(path, ids, vectors, ModelProvenance({}, "ab" * 32, ["elsewhere"]), progress=False)
    return paths


def test_the_probe_reads_the_hand_features_of_the_embedded_rois_among_themselves(annotated: list) -> None:
    frame = read_embeddings(annotated[0], predictions=False)
    matrix, columns, _ = frame_hand_features(frame)
    accepted = read_nwb(annotated[0], unit_filter=ACCEPTED)
    assert len(frame) == accepted.n_neurons == 12
    expected = hand_features(accepted)[columns].to_numpy()
    np.testing.assert_allclose(matrix, zscored_per_recording(expected, np.zeros(len(expected))))
    whole = read_nwb(annotated[0])  # predict reads the file's every ROI when --filter is not repeated
    np.testing.assert_allclose(recording_hand_features(whole, frame["neuron_id"].to_numpy(), columns), matrix)


def test_feature_matrix_among_some_neurons_leaves_the_others_out() -> None:
    from nwb_neurpir.testing import mock_recording

    recording = mock_recording(seed=1)
    among = np.arange(recording.n_neurons) % 3 != 0
    (matrix,), _ = feature_matrix([recording], among=[among])
    (alone,), _ = feature_matrix([recording.select_neurons(among)])
    np.testing.assert_array_equal(matrix[among], alone)
    assert np.isnan(matrix[~among]).all()


def test_evaluate_computes_the_hand_features_among_the_rois_with_a_vector(annotated: list) -> None:
    import nwb_neurpir as npir
    from nwb_neurpir.evaluation import evaluate

    from_files = npir.evaluate(annotated, label="cell_type", methods="neurpir,hand", progress=False)
    accepted = [read_nwb(path, unit_filter=ACCEPTED) for path in annotated]
    vectors = [np.stack(read_embeddings(path, predictions=False)["embedding"]) for path in annotated]
    alone = evaluate(accepted, label="cell_type", embeddings=vectors, methods=["neurpir", "hand"], progress=False)
    assert from_files.dropped == {"<no embedding>": 12} and from_files.n_labelled == alone.n_labelled == 36
    hand = [result.predictions_table().query("method == 'hand'").reset_index(drop=True)
            for result in (from_files, alone)]
    np.testing.assert_array_equal(hand[0]["predicted"], hand[1]["predicted"])
