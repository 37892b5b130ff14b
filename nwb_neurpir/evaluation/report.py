"""Reports of an evaluation: a terminal table, ``report.json``, ``report.md`` (and the PNGs from ``plots``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from nwb_neurpir.atomic_files import atomic_write_bytes
from nwb_neurpir.evaluation.comparison import SESSION_TEST
from nwb_neurpir.evaluation.metrics import PAIRED_SHUFFLES, PERMUTATIONS, monte_carlo_p_text
from nwb_neurpir.evaluation.plots import DEFAULT_DPI
from nwb_neurpir.evaluation.replication import EXACT_UNITS, UNIT_SHUFFLES
from nwb_neurpir.evaluation.results import EvaluationResult, FoldInfo
from nwb_neurpir.evaluation.stability import StabilityResult
from nwb_neurpir.model.summary import lineage, lineage_text
from nwb_neurpir.visible_text import visible_text

__all__ = ["PREDICTIONS_FILE", "format_table", "report_files", "write_report"]

PREDICTIONS_FILE = "predictions.csv"
_TEXT_FILES = {"json": "report.json", "markdown": "report.md", "predictions": PREDICTIONS_FILE}
_FIGURES = {"confusion": "confusion.png", "stability": "stability.png", "umap": "umap.png"}
_TOP_DROPPED = 12
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_~\[\]<>|&]")
"""What markdown shows as written only when escaped with a backslash."""
_PROSE_SPECIAL = re.compile(r"[\\*_~\[\]<>|&]")
"""The same but backquotes, for the package's own sentences (``_markdown_cell(keep_code=True)``)."""


def _headline(result: EvaluationResult) -> str:
    if result.label is None:
        return (f"stability of the units tracked by {result.stability.match_column!r} across each animal's "
                f"recordings; {result.n_neurons} neurons in {result.settings.get('n_recordings')} recordings")
    grouping = f" grouped by {result.grouping['name']}" if result.grouping else ""
    return (f"label {result.label!r}{grouping}; split: leave-one-{result.split}-out"
            if result.split != "kfold" else f"label {result.label!r}{grouping}; split: stratified k-fold") + \
        f"; {result.n_labelled} labelled of {result.n_neurons} neurons ({result.n_neurons - result.n_labelled} dropped)"


def _fold_cell(score: object) -> str:
    return "unscorable" if score is None else f"{score.balanced_accuracy:.3f}"


def _rows(result: EvaluationResult) -> tuple[list[str], list[list[str]]]:
    """Per method: pooled balanced accuracy (headline), per-fold mean ± std, pooled macro-F1, scored neurons,
    permutation chance, then each fold's balanced accuracy; last row: chance."""
    header = ["method", "mode", "pooled bal. acc.", "per-fold mean ± std", "pooled macro-F1", "n scored",
              "permutation chance", *[fold.name for fold in result.folds]]
    rows = [[m.method.name, m.mode, f"{m.pooled.balanced_accuracy:.3f}", str(m.balanced_accuracy),
             f"{m.pooled.macro_f1:.3f}", str(m.n_scored),
             f"{m.permutation[0]:.3f} ({monte_carlo_p_text(m.permutation[1], PERMUTATIONS)})",
             *[_fold_cell(score) for score in m.scores]] for m in result.methods]
    rows.append(["chance (training classes)", "", f"{result.pooled_chance:.3f}", "", "", "", "",
                 *[f"{fold.chance:.3f}" for fold in result.folds]])
    return header, rows


def _comparison_lines(comparison: dict[str, Any] | None) -> list[str]:
    """The report's comparison section: each animal's and session's balanced accuracy by both methods, and how the
    verdict reads them."""
    if comparison is None:
        return []
    first, second = comparison["neurpir"], comparison["best_baseline"]
    rows = [*[["animal", g["name"], f"{g['first']:.3f}", f"{g['second']:.3f}", f"{g['gain']:+.3f}",
               str(g["n_neurons"])] for g in comparison["per_animal"]],
            *[["session", g["name"], f"{g['first']:.3f}", f"{g['second']:.3f}", f"{g['gain']:+.3f}",
               str(g["n_neurons"])] for g in comparison["per_session"]]]
    neuron = comparison["neuron_test"]
    return [f"## {first} vs best baseline {second}", "",
            *_markdown_table(["unit", "name", first, second, "gain", "neurons"], rows), "",
            "Balanced accuracy of each method on each animal's and each session's neurons. The verdict rests on "
            f"the sessions: the {SESSION_TEST} weighs the mean per-session gain against the gains with their signs "
            f"flipped at random (two-sided; all 2^n sign patterns up to {EXACT_UNITS} sessions, else "
            f"{UNIT_SHUFFLES} drawn ones, p given with its Monte Carlo error). A method is called better only when "
            "that test gives p ≤ 0.05, no animal goes the other way, neither method predicts a single class and "
            "the better one is above its permutation chance; with too few sessions for p to reach 0.05 (2 / 2^n: "
            "5 or fewer) there is no verdict. The best baseline is the hand-feature method with the highest mean "
            "balanced accuracy over folds. The paired permutation test over neurons "
            f"(neuron-level {monte_carlo_p_text(neuron['p_value'], PAIRED_SHUFFLES)}) is secondary: neurons of one "
            "animal share its recording and are not independent, so it finds differences that do not replicate "
            "across animals. Every figure: report.json, comparison.", ""]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items() if count) or "none"


def _fold_line(fold: FoldInfo) -> str:
    scoring = (f"chance {fold.chance:.3f}" if fold.scorable and not fold.unscorable_classes else
               f"chance {fold.chance:.3f}; {', '.join(fold.unscorable_classes)} not in training, "
               f"{fold.n_scored} scored" if fold.scorable else
               f"UNSCORABLE ({fold.unscorable_because})")
    return f"fold {fold.name}: test {_counts(fold.test_counts)}; {scoring}"


def format_table(result: EvaluationResult) -> str:
    """The summary a person reads in the terminal: methods side by side, pooled and per-fold balanced accuracy,
    chance, notes and the comparison verdict."""
    lines = [_headline(result), ""]
    if result.methods:
        lines += [*_aligned(*_rows(result)), ""]
    lines.extend(_fold_line(fold) for fold in result.folds)
    if result.stability is not None:
        lines += [""] * bool(result.folds) + [
            f"stability of {result.stability.match_column} (partner's rank among the other recording's neurons, "
            "each animal's recordings pairwise):", *_aligned(*_stability_rows(result.stability)), ""]
    lines.extend(f"note: {note}" for note in result.notes)
    comparison = result.comparison()
    if comparison:
        lines.append(comparison["verdict"])
    lines.append(f"elapsed {result.timings.get('total', 0.0):.1f} s")
    return "\n".join(lines)


def _aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    """A plain-text table: the first two columns left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) if i < 2 else cell.rjust(width)
                      for i, (cell, width) in enumerate(zip(row, widths))) for row in [header, *rows]]


def _stability_rows(stability: StabilityResult) -> tuple[list[str], list[list[str]]]:
    """Per method and animal (``all`` first): look-ups (a neuron once per other recording of its animal), top-1
    against chance, median rank against chance, mean cosine similarity to the partner and to the other neurons."""
    header = ["method", "animal", "look-ups", "top-1", "top-1 chance", "median rank", "median rank chance",
              "cos partner", "cos others"]
    rows = []
    for _, row in stability.table().iterrows():
        if not row["n_queries"]:
            rows.append([row["method"], row["subject"], "0", *["-"] * (len(header) - 3)])
            continue
        rows.append([row["method"], row["subject"], str(int(row["n_queries"])), f"{row['top1']:.3f}",
                     f"{row['top1_chance']:.3f}", f"{row['median_rank']:g}", f"{row['median_rank_chance']:g}",
                     f"{row['cosine_partner']:.3f}", f"{row['cosine_other']:.3f}"])
    return header, rows


def _stability_lines(result: EvaluationResult) -> list[str]:
    """The report's stability section: the table per method and animal, how to read it, the pairs in report.json."""
    stability = result.stability
    if stability is None:
        return []
    return [f"## Stability across recordings ({stability.match_column})", "",
            *_markdown_table(*_stability_rows(stability)), "",
            f"Each neuron whose {stability.match_column} value names a neuron in another recording of its animal "
            "looks up its nearest vector (cosine similarity, vectors z-scored per recording over all its neurons) "
            "among all neurons of that recording, for every ordered pair of the animal's recordings (a look-up). "
            "Top-1: the "
            "share whose nearest is its partner (chance: 1 / neurons of the other recording); median rank: where "
            "the partner comes (1 = nearest, ties counted against it; chance: the middle); cos partner / others: "
            "mean cosine similarity to the partner and to the other neurons. Per pair of recordings: report.json, "
            "stability.methods.<method>.per_pair.", ""]


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table, every cell (header too) one ``_markdown_cell``: the one way report.md writes a table."""
    return [_markdown_row(header), "|" + "---|" * len(header), *map(_markdown_row, rows)]


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(map(_markdown_cell, cells)) + " |"


def _markdown_cell(text: str, keep_code: bool = False) -> str:
    """``text`` (a label, a subject id, a note naming them) shown as it is in a markdown table cell or list item:
    ``|`` (a column), ``*`` ``_`` ``~`` (emphasis), backquotes (code; kept with ``keep_code``, for the package's own
    sentences, which mark options and commands as code), brackets (links), ``<`` ``>`` ``&`` (HTML) and backslashes
    escaped with a backslash; a newline, tab or other control character as its escape (``\\n``, ``\\t``), on the
    cell's line."""
    special = _PROSE_SPECIAL if keep_code else _MARKDOWN_SPECIAL
    return visible_text(special.sub(r"\\\g<0>", text), one_line=True)


def _model_lines(result: EvaluationResult) -> list[str]:
    """Which model made the NeurPIR vectors: path, checksum, package version, hyperparameters, inductive folds."""
    settings = result.settings
    model, config = settings.get("model"), settings.get("config")
    lines = ["## Model", ""]
    if model:
        lines += [f"- path: `{model.get('path', 'not recorded')}`",
                  f"- checkpoint sha256: `{model.get('checkpoint_sha256', 'not recorded')}`",
                  f"- trained on {len(model.get('training_data') or [])} sessions with package version "
                  f"{model.get('package_version', 'unknown')}",
                  *[f"- {text}" for text in [lineage_text(lineage(
                      (model.get("hyperparameters") or {}).get("training") or {}))] if text],
                  *_run_lines((model.get("hyperparameters") or {}).get("training", {}).get("runs") or [])]
        config = config or {key: value for key, value in (model.get("hyperparameters") or {}).items()
                            if key != "training"}
    elif config:
        lines.append("- trained per fold by this evaluation; checkpoints: "
                     + "; ".join(f"{fold}: " + ", ".join(f"{name} `{sha[:12]}`" for name, sha in shas.items())
                                 for fold, shas in (settings.get("fold_models") or {}).items()))
        lines += _runtime_lines(settings.get("runtime"))
    else:
        lines.append("- no NeurPIR model behind these methods (or none recorded)")
    lines.append(f"- evaluated with nwb-neurpir {settings.get('package_version')}"
                 + _versions_text(settings.get("software") or {}))
    if settings.get("bin_sizes_s"):
        lines.append("- activity read on " + " / ".join(f"{size * 1000:g} ms" for size in settings["bin_sizes_s"])
                     + " bins")
    for name, folds in (settings.get("inductive_folds") or {}).items():
        lines.append(f"- {_markdown_cell(name)}: inductive on {len(folds)} of {len(result.folds)} folds"
                     + (f" ({', '.join(map(_markdown_cell, folds))})" if folds else ""))
    if config:
        lines += ["", "Hyperparameters:", "", "```json", json.dumps(config, sort_keys=True), "```"]
    return [*lines, ""]


def _runtime_lines(runtime: dict[str, Any] | None) -> list[str]:
    """How the fold models trained: threads and device (they change the weights), as asked and as resolved."""
    if not runtime:
        return []
    return [f"- fold models trained with {runtime['threads']} thread(s) on {runtime['torch_device']} (num_threads "
            f"{runtime['num_threads']}, device {runtime['device']}; report.json settings.runtime)"]


def _run_lines(runs: list[dict[str, Any]]) -> list[str]:
    """One line per training run of the model (model.json's ``training.runs``): steps, schedule, threads, device,
    processes and the torch version, which all change the weights."""
    return [f"- training run: steps {run['start_step']}-{run['end_step']} of max_steps {run['max_steps']}, "
            + _run_settings(run) + _versions_text(run.get("software") or {}) for run in runs]


def _run_settings(run: dict[str, Any]) -> str:
    """The threads, device and processes of a training run; a run of an earlier release recorded none (None)."""
    if run.get("threads") is None:
        return "by an earlier release (threads, device, processes and software not recorded)"
    return f"{run['threads']} thread(s) on {run['device']}, {run['world_size']} process(es)"


def _versions_text(software: dict[str, Any]) -> str:
    """`` (torch 2.3.0, commit abc123...)`` from a ``software_versions()`` record; empty when there is none."""
    said = [f"{name} {software[name]}" for name in ("torch", "cebra", "scikit-learn", "numpy", "pynwb")
            if software.get(name)]
    if software.get("git_commit"):
        said.append(f"commit {software['git_commit']}")
    return f" ({', '.join(said)})" if said else ""


def _rate(probe: dict[str, Any] | None) -> str:
    if probe is None:
        return "-"
    return f"{probe['balanced_accuracy']:.3f} (chance {probe['chance']:.3f}, {probe['n_groups']} groups)"


def _models(name: str, n_models: int) -> str:
    """A diagnostics row's name, with how many fold models its numbers average."""
    return f"{name} (mean of {n_models} fold models)" if n_models > 1 else name


def _diagnostic_lines(result: EvaluationResult) -> list[str]:
    """Effective rank and identity probes per representation, and vector + hand features vs hand alone."""
    diagnostics = result.diagnostics
    representations = diagnostics.get("representations") or {}
    if not representations:
        return []
    lines = ["## Diagnostics", "", *_markdown_table(
        ["vectors", "dimension", "effective rank", "session identity (bal. acc.)", "animal identity (bal. acc.)"],
        [[_models(name, d.get("n_models", 1)), str(d["dimension"]), f"{d['effective_rank']:.1f}",
          _rate(d["session_identity"]), _rate(d["animal_identity"])] for name, d in representations.items()]), "",
        "Effective rank: exp(entropy of the normalised PCA eigenvalues) of the vectors before normalisation "
        "(the hand features' columns each z-scored over all neurons first, as their units differ). "
        "Identity: balanced accuracy of a logistic probe telling the session (animal) from the vectors, "
        "cross-validated over neurons; near chance means the vectors describe neurons, not recordings. "
        "All computed on the vectors of every labelled neuron; for a representation trained per fold, each number "
        "is the mean over its fold models, every model's vectors measured alike (every model's values: "
        "report.json, diagnostics.representations.<name>.*_per_model).", ""]
    both = diagnostics.get("vector_plus_hand")
    if both:
        lines += [f"NeurPIR vectors + hand features: {both['vector_plus_hand']:.3f} pooled balanced accuracy; hand "
                  f"features alone: {both['hand_alone']:.3f} (gain {both['gain']:+.3f}, same folds and probe).", ""]
    return lines


def _origin_lines(settings: dict) -> list[str]:
    """When, with which version and (from the command line) with which command the report was made, the
    ``neurpir evaluate`` command that reproduces it (when it came from another workflow, e.g. the demo), and from
    how many recordings (their absolute paths and NWB identifiers are in report.json)."""
    made = f"Made {settings.get('created', '(date not recorded)')} with nwb-neurpir {settings.get('package_version')}"
    sources = settings.get("sources") or []
    lines = [f"{made}, from {len(sources)} recordings (paths and NWB identifiers in report.json under "
             "settings.sources)." if sources else f"{made}.", ""]
    if settings.get("command"):
        lines += ["```", settings["command"], "```", ""]
    if settings.get("equivalent_command"):
        lines += ["The same evaluation as a `neurpir evaluate` command:", "", "```", settings["equivalent_command"],
                  "```", ""]
    return lines


def _markdown(result: EvaluationResult, images: dict[str, str]) -> str:
    lines = ["# NeurPIR evaluation", "", _markdown_cell(_headline(result), keep_code=True) + ".", "",
             *_origin_lines(result.settings)]
    comparison = result.comparison()
    if comparison:
        lines += [f"**{comparison['verdict']}.**", ""]
    if result.notes:
        lines += ["## Notes", "", *[f"- {_markdown_cell(note, keep_code=True)}" for note in result.notes], ""]
    lines += _label_sections(result, comparison) if result.methods else _model_lines(result)
    lines += _stability_lines(result)
    if images:
        lines += ["## Figures", "", *[f"![{name}]({path})" for name, path in images.items()], ""]
    hidden = ("hand_features", "config", "model", "probes")
    lines += ["## Settings and timings", "", "```json",
              json.dumps({"settings": {k: v for k, v in result.settings.items() if k not in hidden},
                          "timings_seconds": result.timings}, indent=2, default=str), "```", ""]
    return "\n".join(lines)


def _probe_lines(probes: dict[str, dict[str, Any]]) -> list[str]:
    """Each probe pipeline with its parameters not at scikit-learn's defaults (all of them: report.json)."""
    if not probes:
        return []
    version = next(iter(probes.values()))["scikit-learn"]
    lines = [f"Probes (scikit-learn {version}; other parameters at its defaults, every one in report.json "
             "settings.probes; each fitted on the fold's training neurons):", ""]
    for name, probe in probes.items():
        steps = " → ".join(f"{step['class']}(" + ", ".join(f"{key}={step['params'][key]!r}"
                                                           for key in step["non_default"]) + ")"
                           for step in probe["steps"])
        weights = ", balanced sample weights" if probe["sample_weight"] else ""
        lines.append(f"- {name} ({', '.join(probe['methods'])}): {steps}{weights}")
    return [*lines, ""]


def _label_sections(result: EvaluationResult, comparison: dict[str, Any] | None) -> list[str]:
    """The sections on the label's probes: methods, the comparison, folds, model, diagnostics, per-class scores,
    dropped labels."""
    lines = ["## Methods", "", *_markdown_table(*_rows(result)), ""]
    lines += ["Headline: the pooled score (all out-of-fold predictions scored together, every neuron weighs the "
              "same); beside it the mean ± sample standard deviation (ddof = 1) over scorable folds (every fold "
              "weighs the same; n/a with a single fold, where no spread can be measured). Macro-F1: the mean F1 "
              "over every class among the true or the predicted labels (scikit-learn's "
              "`f1_score(average=\"macro\")`), so predictions of a class the test neurons lack count, with F1 0; "
              "balanced accuracy averages the recall of the classes among the true labels. Chance: a probe "
              "guessing uniformly among its training classes; permutation chance: the mean score of the method's "
              f"own predictions shuffled against the true labels, {PERMUTATIONS} shuffles (p = (1 + k) / (N + 1), "
              f"k of the N = {PERMUTATIONS} shuffles scoring at least as well, ± its Monte Carlo error; "
              f"p ≤ 1 / (N + 1) when no shuffle did). "
              "Mode: `inductive` = the representation never saw the test sessions; `transductive` = it did; "
              "`possibly transductive` = its training sessions share the held-out animal's subject id but none is "
              "a test recording (another lab's animal with the same id, or the same animal recorded again); "
              "`none` = no self-supervised training (hand features). Every scored neuron's prediction by every "
              f"method: `{PREDICTIONS_FILE}` (subject, session, source, neuron id, unit name where the files have "
              "one, fold, method, true, predicted).",
              "", *_probe_lines(result.settings.get("probes") or {}), *_comparison_lines(comparison)]
    lines += ["## Folds", "", *_markdown_table(
        ["fold", "held out", "train counts", "test counts", "chance", "scored", "model trained on"],
        [[f.name, f.held_out, _counts(f.train_counts), _counts(f.test_counts), f"{f.chance:.3f}",
          str(f.n_scored) if f.scorable else f"unscorable ({f.unscorable_because})",
          f"{len(f.training_data)} sessions" if f.training_data else "-"] for f in result.folds]), ""]
    lines += _model_lines(result)
    lines += _diagnostic_lines(result)
    lines += ["## Per-class scores (all folds pooled)", ""]
    for method in result.methods:
        per_class = method.to_dict()["per_class_total"]
        description = _markdown_cell(method.description, keep_code=True)
        lines += [f"### {_markdown_cell(method.method.name)}", "", description, "", *_markdown_table(
            ["class", "precision", "recall", "F1", "support"],
            [[name, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"])]
             for name, s in per_class.items()]), ""]
    if result.dropped:
        shown = list(result.dropped.items())[:_TOP_DROPPED]
        more = len(result.dropped) - len(shown)
        lines += ["## Dropped labels", "", ", ".join(f"{_markdown_cell(name)} ({count})" for name, count in shown)
                  + (f", and {more} more values" if more > 0 else ""), ""]
    return lines


def write_report(result: EvaluationResult, out_dir: str | Path, plots: bool = True,
                 projection: str = "umap", dpi: float = DEFAULT_DPI) -> dict[str, Path]:
    """Write ``report.json``, ``report.md``, ``predictions.csv`` (every scored neuron's prediction by every method)
    and (``plots``) the PNG figures (at ``dpi``) into ``out_dir``; returns the paths.

    ``projection`` (``umap`` or ``pca``) draws ``umap.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if plots:
        from nwb_neurpir.evaluation.plots import MIN_PROJECTED, drawable, save_figure

        if result.methods:
            paths["confusion"] = save_figure(result.plot("confusion"), out_dir / _FIGURES["confusion"], dpi)
        if result.stability is not None and any(result.stability.retrievals.values()):
            paths["stability"] = save_figure(result.plot("stability"), out_dir / _FIGURES["stability"], dpi)
        if result.view is not None and drawable(result.view.drawn_vectors()).sum() >= MIN_PROJECTED:
            paths["umap"] = save_figure(result.plot("embeddings", projection), out_dir / _FIGURES["umap"], dpi)
    payload: dict[str, Any] = result.to_dict()
    payload["figures"] = {name: path.name for name, path in paths.items()}
    paths["json"] = _write_text(out_dir / _TEXT_FILES["json"], json.dumps(payload, indent=2, default=float))
    images = {name: path.name for name, path in paths.items() if path.suffix == ".png"}
    paths["markdown"] = _write_text(out_dir / _TEXT_FILES["markdown"], _markdown(result, images))
    if result.methods:
        paths["predictions"] = _write_text(out_dir / _TEXT_FILES["predictions"],
                                           result.predictions_table().to_csv(index=False))
    return paths


def report_files(plots: bool = True) -> list[str]:
    """The names of the files ``write_report`` may write into its folder (the PNG figures only with ``plots``)."""
    return [*_TEXT_FILES.values(), *(_FIGURES.values() if plots else ())]


def _write_text(path: Path, text: str) -> Path:
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
