"""Options shared by every command that reads data, so SOURCES mean the same thing everywhere; and choices taken
from the library's registries."""

from __future__ import annotations

import importlib
import shlex
import sys
import typing
from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer
from typer.core import TyperCommand

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.redaction import redact_url


class RegistryChoice:
    """An option's value checked against the names of a library registry (``"module:NAME"``: a dict, a tuple or a
    ``Literal``), imported only when a value is checked, so ``neurpir --help`` stays fast. A value outside them is a
    one-line ``--option must be one of a, b, not 'x'`` error (exit code 1)."""

    def __init__(self, registry: str, option: str) -> None:
        self.registry = registry
        self.option = option

    def names(self) -> tuple[str, ...]:
        """The registry's names, in its order."""
        module, _, name = self.registry.partition(":")
        found = getattr(importlib.import_module(module), name)
        return tuple(typing.get_args(found) or found)

    def __call__(self, value: str) -> str:
        names = self.names()
        if value not in names:
            raise NeurPIRError(f"{self.option} must be one of {', '.join(names)}, not {value!r}")
        return value


GROUPING_HELP = ("Preset (steinmetz-4region: Steinmetz et al. 2019's brainRegionGroups MB/VIS/TH/HPF, as NuCLR uses "
                 "them) or a YAML/JSON file mapping each group name to its label values, flat (hippocampus: [CA1, "
                 "DG*]) or under groups: beside a name:; a * matches any characters, case-sensitively (VIS* takes "
                 "VISp5, VISam2/3 ...). A label two groups match, or a group name written twice, is an error. Values "
                 "in no group and unassigned ones (empty, root, void) are left out, and notes count them.")
"""How the ``--grouping`` options describe a grouping: the preset, the file format, what is left out."""
LABEL_VALUES = ("Values are compared with surrounding spaces stripped, in one Unicode form (NFC). Empty values, "
                "NaN and nan/none/null/n/a/na (any case) are missing: those neurons are left out; every other value, "
                "'unknown', root and void too, is a class (a --grouping keeps only the values its groups list or "
                "match).")
"""How the ``--label`` options say which label values are classes."""
LABELS_HELP = ("A CSV (or .tsv) of labels kept outside the NWB files: columns neuron_id (the units table's row id) "
               "or unit_name (the units' unit_name, e.g. the Phy cluster id of Kilosort/Phy exports), the --label "
               "column, and identifier (NWB identifier) or else session_id naming the recording (plus subject_id, if "
               "present, matched too). Its values replace the files' column for the neurons it lists; other neurons "
               "are unlabelled; rows matching no neuron are counted in a warning.")
"""How ``evaluate --labels`` and ``predict --labels`` describe the labels file."""


def command_line() -> str | None:
    """The command line of a `neurpir` process, URLs without their credentials (None when the app runs inside
    another program, e.g. a test)."""
    program = Path(sys.argv[0])
    if program.name != "neurpir" and program.parts[-3:] != ("nwb_neurpir", "cli", "__main__.py"):
        return None
    return shlex.join(["neurpir", *(redact_url(argument) for argument in sys.argv[1:])])


def choice(registry: str, *names: str, help: str) -> Any:  # noqa: A002, ANN401 - typer.Option's keyword and type
    """A ``typer.Option`` (``names``: its flags) whose values are the names in ``registry`` (``"module:NAME"``)."""
    return typer.Option(*names, parser=RegistryChoice(registry, names[0]), help=help)


SOURCES_HELP = (
    "Local .nwb files, folders (searched recursively), globs, DANDI asset IDs, "
    "DANDI:<dandiset>[/<version>][/<path>] or DANDI/https URLs."
)

Sources = Annotated[list[str], typer.Argument(help=SOURCES_HELP, show_default=False)]
ModelFolder = Annotated[str, typer.Argument(
    metavar="MODEL", show_default=False,
    help="A model folder written by `neurpir train` or `neurpir export` (a local folder: unzip an archive first).")]
Glob = Annotated[
    Optional[str],  # noqa: UP007
    typer.Option("--glob", help="With a dandiset or folder: only assets whose path matches this glob."),
]
CacheDir = Annotated[
    Optional[Path],  # noqa: UP007
    typer.Option("--cache-dir", help="Where streamed DANDI data is cached (default: the user cache dir)."),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
Modality = Annotated[str, choice("nwb_neurpir.io.nwb_reader:MODALITIES", "--modality",
                                 help="auto (units if present, else calcium ROIs), spikes or ophys (evaluate: "
                                      "with --model or --train only).")]
UnitFilter = Annotated[
    Optional[str],  # noqa: UP007
    typer.Option("--filter", help="Keep only neurons matching this expression on their columns and "
                                  "neuron_id (their row id in the table, as outputs name it), e.g. "
                                  "'quality == \"good\"', 'neuron_id < 30' or 'iscell[0] == 1' (one value of a "
                                  "column of a few per row). A neuron is embedded with the co-recorded neurons "
                                  "kept (its population context), so filtering changes the vectors of the neurons "
                                  "kept; for vectors in the whole recording's context, embed without --filter and "
                                  "select rows afterwards."),
]
Series = Annotated[
    Optional[str],  # noqa: UP007
    typer.Option("--series", help="Calcium: the RoiResponseSeries to read, or a PlaneSegmentation whose ROI traces "
                                  "to read, by name [default: the ROI traces of the first plane, DfOverF before "
                                  "Fluorescence; `neurpir inspect` names them]. Spikes: the units table to read "
                                  "(a second spike sorting), by name or path, e.g. units_ms5 [default: /units, else "
                                  "the first in processing/; `neurpir inspect` lists them]."),
]


def _checked_during(value: str) -> str:
    """``--during`` as given, once it parses as ``TABLE[:COLUMN=VALUE[,VALUE...]]`` (before any file is read)."""
    from nwb_neurpir.io.during import During

    During.parse(value)
    return value


During = Annotated[
    Optional[str],  # noqa: UP007
    typer.Option("--during", metavar="TABLE[:COLUMN=VALUE,...]", parser=_checked_during,
                 help="Read only the time inside intervals of an interval table of each file (`neurpir inspect` "
                      "lists them under covariates): every row of TABLE (trials), or the rows whose COLUMN holds "
                      "one of the values (epochs:stage=NREM, epochs:stage_code=1,2). Observed time outside them is "
                      "left out as if outside obs_intervals; a file without the table, column or value is an error."),
]

class OneSeries(TyperCommand):
    """A command whose ``--series``, ``--during`` (and the other options of ``once``) may be given once: Click keeps
    the last value of an option given twice, so ``--series A --series B`` read B alone; a repeated one is a one-line
    error."""

    once: dict[str, str] = {"--series": "a run reads one series (or units table) of each file: run the command once "
                                        "per series",
                            "--during": "name several values in one (epochs:stage=NREM,REM)"}
    """Option -> what the error says after ``--X is given N times;``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            _, _, order = self.make_parser(ctx).parse_args(args=list(args))
            for option, why in self.once.items():
                given = sum(option in getattr(param, "opts", ()) for param in order)
                if given > 1:
                    raise NeurPIRError(f"{option} is given {given} times; {why}")
        return super().parse_args(ctx, args)


BinSize = Annotated[
    Optional[float],  # noqa: UP007
    typer.Option("--bin-size", help="Bin size in seconds (default: 0.01 for spikes, the frame period for calcium; "
                                    "with a model, the model's own; calcium frames may not be further apart)."),
]
THREADS_MEANING = ("0: OMP_NUM_THREADS when set, else every CPU this process may use (those it may run on, capped "
                   "by its cgroup CPU quota, as JupyterHub, Kubernetes or Slurm set one). On a machine other jobs "
                   "share, fewer run faster: try 1.")
"""What ``--threads`` counts, for every command that runs torch."""
Threads = Annotated[
    Optional[int],  # noqa: UP007
    typer.Option("--threads", min=0, help=f"CPU threads torch trains and embeds with; {THREADS_MEANING} "
                                          "[default: 0, or the config's]. The trained weights depend on the count: "
                                          "the same count on one machine trains the same weights, another count "
                                          "slightly different ones (model.json records the count each training run "
                                          "used)."),
]
EmbedThreads = Annotated[
    int, typer.Option("--threads", min=0, help=f"CPU threads torch embeds with; {THREADS_MEANING}"),
]
LockTimeout = Annotated[float, typer.Option(
    "--lock-timeout", min=0.0, help="Seconds to wait while another process writes the same file.")]

PROGRESS_DEFAULT = "[default: on when stderr is a terminal; NEURPIR_PROGRESS=1 or 0: on or off; TQDM_DISABLE=1: off]"
"""How the ``--progress/--no-progress`` options describe their default."""


def progress_default() -> bool:
    """Whether progress bars are drawn when neither --progress nor --no-progress is given: ``NEURPIR_PROGRESS``
    (``1`` or ``0``) decides, else ``TQDM_DISABLE`` (set and not ``0``: off), else whether stderr is a terminal (not
    a batch job's log file)."""
    from nwb_neurpir.progress import progress_from_environment

    chosen = progress_from_environment()
    return sys.stderr.isatty() if chosen is None else chosen


def _given_or_default(value: bool | None) -> bool:
    return progress_default() if value is None else value


def progress_option(help: str) -> Any:  # noqa: A002, ANN401 - typer.Option's keyword and type
    """The ``--progress/--no-progress`` option (``help``: what it shows), whose value is ``progress_default()`` when
    neither flag is given."""
    return typer.Option("--progress/--no-progress", callback=_given_or_default, show_default=False,
                        help=f"{help} {PROGRESS_DEFAULT}")


Progress = Annotated[Optional[bool], progress_option("Show progress bars on stderr.")]  # noqa: UP007
"""True or False once parsed; the ``None`` default means ``progress_default()``."""

