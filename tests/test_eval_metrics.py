"""Metrics agree with scikit-learn on known predictions; chance counts only classes present in the test fold."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from nwb_neurpir.evaluation.metrics import score_fold, summarize


@pytest.mark.parametrize("seed", range(4))
def test_scores_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = ["HPF", "MB", "TH", "VIS"]
    y_true = rng.choice(classes, 300, p=[0.4, 0.05, 0.25, 0.3])
    y_pred = np.where(rng.random(300) < 0.5, y_true, rng.choice(classes, 300))
    score = score_fold(y_true, y_pred, classes)
    assert score.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert score.macro_f1 == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", labels=classes))
    np.testing.assert_array_equal(score.confusion, skm.confusion_matrix(y_true, y_pred, labels=classes))
    precision, recall, f1, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=classes,
                                                                         zero_division=0)
    per_class = score.per_class()
    for i, name in enumerate(classes):
        assert per_class[name]["precision"] == pytest.approx(precision[i])
        assert per_class[name]["recall"] == pytest.approx(recall[i])
        assert per_class[name]["f1"] == pytest.approx(f1[i])
        assert per_class[name]["support"] == support[i]
    assert score.chance == 0.25


def test_known_confusion_with_a_class_absent_from_the_test_animal() -> None:
    classes = ["HPF", "MB", "TH"]
    y_true = ["HPF"] * 4 + ["TH"] * 2
    y_pred = ["HPF", "HPF", "MB", "TH", "TH", "HPF"]
    score = score_fold(y_true, y_pred, classes)
    assert score.confusion.tolist() == [[2, 1, 1], [0, 0, 0], [1, 0, 1]]
    assert score.balanced_accuracy == pytest.approx((2 / 4 + 1 / 2) / 2)
    assert score.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert score.macro_f1 == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))  # MB predicted: F1 0
    assert score.macro_f1 == pytest.approx((4 / 7 + 0 + 1 / 2) / 3)  # HPF, MB, TH
    assert score.chance == 0.5


def test_macro_f1_leaves_out_only_classes_neither_true_nor_predicted() -> None:
    classes = ["HPF", "MB", "TH", "VIS"]
    y_true, y_pred = ["HPF", "HPF", "TH", "TH"], ["HPF", "HPF", "TH", "TH"]
    assert score_fold(y_true, y_pred, classes).macro_f1 == 1.0  # MB and VIS: neither true nor predicted


def test_summary_is_mean_and_sample_std() -> None:
    summary = summarize([0.3, 0.4, 0.5])
    assert summary.mean == pytest.approx(0.4)
    assert summary.std == pytest.approx(np.std([0.3, 0.4, 0.5], ddof=1))
    assert str(summary) == "0.400 ± 0.100"


def test_one_fold_has_no_spread() -> None:
    summary = summarize([0.956])
    assert summary.std is None and summary.to_dict()["std"] is None
    assert str(summary) == "0.956 ± n/a"
