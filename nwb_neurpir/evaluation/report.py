"""Reports of an evaluation: a terminal table, ``report.json``, ``report.md`` (and the PNGs from ``plots``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nwb_neurpir.evaluation.results import EvaluationResult

__all__ = ["format_table", "write_report"]

_TOP_DROPPED = 12


def _headline(result: EvaluationResult) -> str:
    grouping = f" grouped by {result.grouping['name']}" if result.grouping else ""
    return (f"label {result.label!r}{grouping}; split: leave-one-{result.split}-out"
            if result.split != "kfold" else f"label {result.label!r}{grouping}; split: stratified k-fold") + \
        f"; {result.n_labelled} labelled of {result.n_neurons} neurons ({result.n_neurons - result.n_labelled} dropped)"


def _rows(result: EvaluationResult) -> tuple[list[str], list[list[str]]]:
    header = ["method", "mode", "balanced acc.", "macro-F1", *[fold.name for fold in result.folds]]
    rows = [[m.method.name, m.mode, str(m.balanced_accuracy), str(m.macro_f1),
             *[f"{score.balanced_accuracy:.3f}" for score in m.scores]] for m in result.methods]
    rows.append(["chance", "", "", "", *[f"{fold.chance:.3f}" for fold in result.folds]])
    return header, rows


def _comparison_line(result: EvaluationResult) -> str | None:
    comparison = result.comparison()
    if comparison is None:
        return None
    return (f"{comparison['neurpir']} vs best baseline {comparison['best_baseline']}: "
            f"{comparison['balanced_accuracy_gain']:+.3f} mean balanced accuracy")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def format_table(result: EvaluationResult) -> str:
    """The summary a person reads in the terminal: methods side by side, per-fold balanced accuracy, chance."""
    header, rows = _rows(result)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [_headline(result), ""]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) if i < 2 else cell.rjust(width)
                               for i, (cell, width) in enumerate(zip(row, widths))))
    lines.append("")
    lines.extend(f"fold {fold.name}: test {_counts(fold.test_counts)}; chance {fold.chance:.3f}"
                 for fold in result.folds)
    comparison = _comparison_line(result)
    if comparison:
        lines.append(comparison)
    lines.append(f"elapsed {result.timings.get('total', 0.0):.1f} s")
    return "\n".join(lines)


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(row) + " |" for row in rows]]


def _markdown(result: EvaluationResult, images: dict[str, str]) -> str:
    lines = ["# NeurPIR evaluation", "", _headline(result) + ".", ""]
    comparison = _comparison_line(result)
    if comparison:
        lines += [f"**{comparison}.**", ""]
    lines += ["## Methods (balanced accuracy per fold)", "", *_markdown_table(*_rows(result)), ""]
    lines += ["Mode: `inductive` = the representation never saw the test sessions; `transductive` = it did; "
              "`none` = no self-supervised training (hand features).", ""]
    lines += ["## Folds", "", *_markdown_table(
        ["fold", "held out", "train counts", "test counts", "chance", "model trained on"],
        [[f.name, ", ".join(f.held_out_subjects), _counts(f.train_counts), _counts(f.test_counts), f"{f.chance:.3f}",
          f"{len(f.training_data)} sessions" if f.training_data else "-"] for f in result.folds]), ""]
    lines += ["## Per-class scores (all folds pooled)", ""]
    for method in result.methods:
        per_class = method.to_dict()["per_class_total"]
        lines += [f"### {method.method.name}", "", method.description, "", *_markdown_table(
            ["class", "precision", "recall", "F1", "support"],
            [[name, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"])]
             for name, s in per_class.items()]), ""]
    if result.dropped:
        shown = list(result.dropped.items())[:_TOP_DROPPED]
        more = len(result.dropped) - len(shown)
        lines += ["## Dropped labels", "", ", ".join(f"{name} ({count})" for name, count in shown)
                  + (f", and {more} more values" if more > 0 else ""), ""]
    if images:
        lines += ["## Figures", "", *[f"![{name}]({path})" for name, path in images.items()], ""]
    lines += ["## Settings and timings", "", "```json",
              json.dumps({"settings": {k: v for k, v in result.settings.items() if k != "hand_features"},
                          "timings_seconds": result.timings}, indent=2, default=str), "```", ""]
    return "\n".join(lines)


def write_report(result: EvaluationResult, out_dir: str | Path, plots: bool = True,
                 projection: str = "umap") -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and (``plots``) the PNG figures into ``out_dir``; returns the paths.

    ``projection`` (``umap`` or ``pca``) draws ``umap.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if plots:
        from nwb_neurpir.evaluation.plots import plot_confusions, plot_embeddings

        paths["confusion"] = plot_confusions(result, out_dir / "confusion.png")
        if result.view is not None:
            seed = int(result.settings.get("seed", 0))
            paths["umap"] = plot_embeddings(result.view, out_dir / "umap.png", seed=seed, projection=projection)
    payload: dict[str, Any] = result.to_dict()
    payload["figures"] = {name: path.name for name, path in paths.items()}
    paths["json"] = _write_text(out_dir / "report.json", json.dumps(payload, indent=2, default=float))
    images = {name: path.name for name, path in paths.items() if path.suffix == ".png"}
    paths["markdown"] = _write_text(out_dir / "report.md", _markdown(result, images))
    return paths


def _write_text(path: Path, text: str) -> Path:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path
