"""The one-command demo: simulate, train without one animal, annotate, evaluate on that animal, plot. No network."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from nwb_neurpir.errors import CannotResume, NeurPIRError

if TYPE_CHECKING:
    from nwb_neurpir.model import NeurPIRConfig
    from nwb_neurpir.simulate import SimulationConfig

__all__ = ["DEMO_TRAINING_STEPS", "DemoResult", "run_demo"]

DEMO_TRAINING_STEPS = 600
"""Fewer than the model's default, so the whole demo stays within a few minutes on 2 CPU cores."""

_AFRESH = "--overwrite (overwrite=True) starts the demo afresh: it simulates, trains and annotates again"


@dataclass
class DemoResult:
    """What the demo made and measured."""

    out_dir: Path
    data_files: list[Path]
    model_dir: Path
    test_subject: str
    report_files: dict[str, Path]
    table: str
    scores: dict[str, float]
    """Balanced accuracy on the held-out animal per method."""
    chance: float
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "data_files": [str(p) for p in self.data_files],
                "model_dir": str(self.model_dir), "test_subject": self.test_subject,
                "report_files": {k: str(v) for k, v in self.report_files.items()},
                "held_out_balanced_accuracy": self.scores, "chance": self.chance, "seconds": self.seconds}


def run_demo(out_dir: str | Path = "neurpir-demo", *, seed: int = 0, max_steps: int | None = None,
             num_threads: int | None = None, progress: bool = True, say: Callable[[str], None] = print,
             population: SimulationConfig | None = None, config: NeurPIRConfig | None = None,
             projection: str = "umap", command: str | None = None, overwrite: bool = False) -> DemoResult:
    """Simulate the DEMO population, train NeurPIR on all animals but the last, annotate every file, and evaluate
    cell-type prediction on the held-out animal against hand-made features; write a report with PNGs.

    ``population`` and ``config`` replace the DEMO preset and the default model config (``DEMO_TRAINING_STEPS``
    steps); ``seed``, and ``max_steps`` and ``num_threads`` (torch's CPU threads, 0: every core) when given, override
    theirs. ``projection`` (``umap`` or ``pca``) draws the report's map. The report records ``command`` (the
    ``neurpir demo`` command line that ran, if any, with ``--threads`` set to the count training used) and the
    ``neurpir evaluate`` command that reproduces its numbers into ``<out_dir>/report-evaluate``, beside the demo's
    own report.

    Run again into the same ``out_dir``, the demo keeps the files it simulated (and their embeddings) and continues
    the training from its checkpoint; it refuses, before writing anything, when ``data/`` holds other files (another
    ``seed``) or the checkpoint cannot be continued (fewer ``max_steps``). ``overwrite`` starts afresh instead."""
    from nwb_neurpir.workflows.annotation import annotate_sources
    from nwb_neurpir.evaluation import evaluate, format_table, write_report
    from nwb_neurpir.io import open_recordings
    from nwb_neurpir.model import NeurPIRConfig, train
    from nwb_neurpir.simulate import DEMO
    from nwb_neurpir.workflows.training import check_out
    import torch

    out_dir = Path(out_dir)
    data_dir, model_dir, report_dir = out_dir / "data", out_dir / "model", out_dir / "report"
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 1)
        clock = now

    population = dataclasses.replace(population or DEMO, seed=seed)
    check_out(model_dir)
    files = _simulated(data_dir, population, overwrite, progress, say)
    lap("simulate")

    recordings = list(open_recordings([data_dir], progress=progress, keep_spike_times=True))
    subjects = sorted({recording.subject_id for recording in recordings})
    test_subject = subjects[-1]
    training = [recording for recording in recordings if recording.subject_id != test_subject]
    given = {"max_steps": max_steps, "num_threads": num_threads}
    config = dataclasses.replace(config or NeurPIRConfig(max_steps=DEMO_TRAINING_STEPS), seed=seed,
                                 **{name: value for name, value in given.items() if value is not None})
    say(f"[2/5] training NeurPIR on animals {', '.join(subjects[:-1])} (animal {test_subject} is held out)")
    try:
        model = train(training, config, out_dir=model_dir, progress=progress, resume=not overwrite)
    except CannotResume as error:
        raise NeurPIRError(f"{error.reason}; {_AFRESH}", error.source) from None
    command = None if command is None else _with_threads(command, torch.get_num_threads())
    lap("train")

    say(f"[3/5] annotating {len(files)} NWB files with their neurons' embeddings")
    outcomes = annotate_sources(model, [data_dir], overwrite=True, progress=progress)
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    if failed:
        raise NeurPIRError(f"annotating failed: {failed[0].error}", source=failed[0].source)
    lap("annotate")

    say(f"[4/5] evaluating cell-type prediction on animal {test_subject}, unseen by the model and the probes")
    vectors = [model.embed(recording, progress=False) for recording in recordings]
    result = evaluate(recordings, label="cell_type", embeddings=vectors, held_out=[test_subject],
                      embeddings_training_data=model.provenance().training_data,
                      model_provenance={**model.provenance().to_dict(), "path": str(model_dir.resolve())},
                      progress=progress)
    result.settings["command"] = command
    result.settings["equivalent_command"] = _evaluate_command(data_dir, model_dir, test_subject,
                                                              out_dir / "report-evaluate", projection)
    lap("evaluate")

    say(f"[5/5] writing the report and plots to {report_dir}")
    report_files = write_report(result, report_dir, projection=projection)
    lap("report")
    held_out = _held_out_scores(result, test_subject)
    return DemoResult(out_dir=out_dir, data_files=files, model_dir=model_dir, test_subject=test_subject,
                      report_files=report_files, table=format_table(result), scores=held_out[0], chance=held_out[1],
                      seconds=seconds)


def _simulated(data_dir: Path, population: SimulationConfig, overwrite: bool, progress: bool,
               say: Callable[[str], None]) -> list[Path]:
    """The demo's NWB files: simulated into ``data_dir``, or (a run again, without ``overwrite``) those an earlier
    run simulated with the same settings, kept as they are. Other files in their place are refused, not replaced."""
    from nwb_neurpir.simulate import planned_paths, simulated_already, write_dataset

    planned = planned_paths(data_dir, population)
    if not overwrite and any(path.exists() for path in planned):
        if simulated_already(data_dir, population) != planned:
            raise NeurPIRError(f"holds files of another demo (another --seed?) or only some of this one's; {_AFRESH}",
                               data_dir)
        say(f"[1/5] keeping the {len(planned)} files an earlier run simulated in {data_dir}")
        return planned
    say(f"[1/5] simulating {population.n_animals} animals x {population.n_neurons} Izhikevich neurons "
        f"({population.duration_s:g} s each) into {data_dir}")
    return write_dataset(data_dir, population, modality="spikes", progress=progress, overwrite=True)


def _with_threads(command: str, threads: int) -> str:
    """``command`` with ``--threads threads`` in place of any ``--threads`` it had: the count training used, so
    that running it again trains the same weights."""
    import shlex

    words = shlex.split(command)
    kept = [word for index, word in enumerate(words)
            if word.partition("=")[0] != "--threads" and (index == 0 or words[index - 1] != "--threads")]
    return shlex.join([*kept, "--threads", str(threads)])


def _evaluate_command(data_dir: Path, model_dir: Path, test_subject: str, report_dir: Path, projection: str) -> str:
    """The ``neurpir evaluate`` command line that reproduces the demo's evaluation into ``report_dir`` (absolute
    paths)."""
    import shlex

    return shlex.join(["neurpir", "evaluate", str(data_dir.resolve()), "--label", "cell_type", "--model",
                       str(model_dir.resolve()), "--held-out", test_subject, "--out", str(report_dir.resolve()),
                       "--projection", projection])


def _held_out_scores(result: Any, subject: str) -> tuple[dict[str, float], float]:  # noqa: ANN401 - EvaluationResult
    """Balanced accuracy of every method on the fold that holds out ``subject``, and that fold's chance level."""
    index = next(i for i, fold in enumerate(result.folds) if subject in fold.held_out_subjects)
    scores = {method.method.name: round(float(method.scores[index].balanced_accuracy), 3)
              for method in result.methods}
    return scores, float(result.folds[index].chance)
