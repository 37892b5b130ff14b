"""``annotate``: embed the neurons of NWB sources with a fitted model and store the vectors in each file (or a
sidecar file for DANDI assets and read-only files), continuing past failing sources."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.provenance import ModelProvenance
from nwb_neurpir.renamed import accepts_ophys_series
from nwb_neurpir.workflows.recordings import source_items

if TYPE_CHECKING:
    from nwb_neurpir.model import NeurPIR as TrainedModel
    from nwb_neurpir.recording import Recording
    from nwb_neurpir.workflows.estimator import NeurPIR
    from nwb_neurpir.workflows.recordings import Sources

__all__ = ["AnnotateOutcome", "annotate", "annotate_sources", "as_embedded", "other_modality_skipped"]

log = logging.getLogger(__name__)

Outcome = TypeVar("Outcome", bound="AnnotateOutcome")


@accepts_ophys_series
def annotate(model: NeurPIR | TrainedModel | str | Path, sources: Sources,
             glob: str | None = None, *, output_dir: str | Path | None = None, overwrite: bool = False,
             name: str | None = None, sidecar: bool | None = None, cache_dir: str | Path | None = None,
             unit_filter: str | None = None, series: str | None = None, during: str | None = None,
             lock_timeout: float | None = None, progress: bool | None = None,
             raise_on_failure: bool = True) -> list[AnnotateOutcome]:
    """Write one embedding per neuron into every source: in place (atomic, locked) for local files, into copies with
    ``output_dir`` (read-only files too), as sidecar NWB files for DANDI assets and, without ``output_dir``,
    read-only files.

    ``series`` (``--series``) names the calcium traces or the units table to read, by name or path (``units_ms5``);
    ``during`` (``--during``) the intervals whose time alone is read (``"epochs:stage=NREM"``, recorded in the file's
    ``NeurPIRModel``). ``model`` is a fitted ``npir.NeurPIR``, a trained ``nwb_neurpir.model.NeurPIR`` or a model
    folder; the other options are ``annotate_sources``' (``output_dir`` is the command's ``--out``). Every source is
    tried; then, unless ``raise_on_failure=False``, a failure raises a ``NeurPIRError`` naming the first failed source.
    Returns one outcome per source (``status``: in-place, copy, sidecar, unchanged, skipped or failed; ``path``;
    ``n_neurons``). ``progress``: None follows ``NEURPIR_PROGRESS`` (as ``open_recordings``).

    >>> import nwb_neurpir as npir
    >>> outcomes = npir.annotate("model/", "sim/sub-sim01", overwrite=True)     # doctest: +SKIP
    >>> outcomes[0].status, outcomes[0].n_neurons                              # doctest: +SKIP
    ('in-place', 250)
    """
    from nwb_neurpir.progress import progress_or_environment
    from nwb_neurpir.workflows.estimator import trained_model

    outcomes = annotate_sources(trained_model(model), source_items(sources), glob, output_dir=output_dir,
                                overwrite=overwrite, name=name, sidecar=sidecar, cache_dir=cache_dir,
                                unit_filter=unit_filter, series=series, during=during, lock_timeout=lock_timeout,
                                progress=progress_or_environment(progress))
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    if failed and raise_on_failure:
        more = f" ({len(failed) - 1} more sources failed)" if len(failed) > 1 else ""
        raise NeurPIRError(f"{failed[0].error}{more}")
    return outcomes


@dataclass(frozen=True)
class AnnotateOutcome:
    """What happened to one source: where its embeddings went, or why not."""

    source: str
    status: str
    """``in-place``, ``copy`` (also a source that already holds these embeddings, copied as it is), ``sidecar``,
    ``unchanged`` (the file already holds these embeddings: same model, neuron selection and neurons; left as it
    is), ``skipped`` (a sidecar, a file without neurons, or one of the other modality among files of the model's)
    or ``failed``."""
    path: str | None = None
    n_neurons: int = 0
    error: str | None = None
    n_silent: int = 0
    """Of the neurons embedded now, those without activity in the time read (marked ``silent``)."""

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "status": self.status, "path": self.path, "n_neurons": self.n_neurons,
                "n_silent": self.n_silent, "error": self.error}


def annotate_sources(
    model: TrainedModel,
    sources: Iterable[str | Path],
    glob: str | None = None,
    *,
    output_dir: str | Path | None = None,
    overwrite: bool = False,
    name: str | None = None,
    sidecar: bool | None = None,
    cache_dir: str | Path | None = None,
    unit_filter: str | None = None,
    series: str | None = None,
    during: str | None = None,
    lock_timeout: float | None = None,
    progress: bool = True,
) -> list[AnnotateOutcome]:
    """Embed and store each source's neurons; a source that fails is reported in its outcome, not raised.

    Local files are copied to ``output_dir`` with the layout they have below the folder given, or else annotated in
    place (atomically) when writable; DANDI assets, URLs and other read-only files get a sidecar NWB file (see
    ``nwb_neurpir.store.annotate``). Sidecar files and files without units or ROIs are skipped. Neurons with no
    observed activity have no vector and are left out. Context inputs of the model that a file lacks are set to
    their training mean, with a warning, and recorded in that file's ``NeurPIRModel`` description. ``series``
    picks the calcium traces (a RoiResponseSeries or a segmentation table) or the units table, by name or path;
    ``during`` the intervals of an interval table whose time alone is read (``"epochs:stage=NREM"``).
    ``lock_timeout``: seconds to wait for another writer of the same file (None: the store's default). Without
    ``overwrite``, a file that already holds these embeddings (same model, neuron selection and neurons) is left as
    it is (status ``unchanged``), or, with ``output_dir``, copied there as it is (status ``copy``), before anything
    is embedded; other embeddings of that name are refused. Folders made for a copy or sidecar that failed are
    removed again when empty.
    """
    from tqdm import tqdm

    from nwb_neurpir.io.access import DataAccess
    from nwb_neurpir.io.nwb_reader import NoNeurons, SidecarFile
    from nwb_neurpir.io.resolve import resolve_each
    from nwb_neurpir.store import DEFAULT_LOCK_TIMEOUT, DEFAULT_NAME, annotate_recording
    from nwb_neurpir.workflows.model_inputs import (OtherModality, read_for_model, warn_missing_context,
                                                   warn_unobserved)

    access = DataAccess(cache_dir=cache_dir)
    provenance = model.provenance()
    resolved, failures = resolve_each(sources, glob, access=access)
    outcomes = [AnnotateOutcome(source=text, status="failed", error=error.one_line()) for text, error in failures]
    claimed: set[Path] = set()
    other_kind: list[int] = []
    for source in tqdm(resolved, desc="annotating", unit="file", disable=not progress):
        try:
            recording = read_for_model(model, source, access, unit_filter=unit_filter,  # sidecars: skipped here
                                       series=series, during=during)
            timeout = DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout
            done = None if overwrite else _unchanged_copied_or_refused(
                recording, provenance.checkpoint_sha256, name or DEFAULT_NAME, output_dir, source.relative_path,
                sidecar, claimed, timeout)
            if done is not None:
                outcomes.append(AnnotateOutcome(source=source.label(), status=done[0], path=str(done[1]),
                                                n_neurons=done[2]))
                continue
            missing = warn_missing_context(model, recording)
            vectors = model.embed(recording, progress=False)
            keep = warn_unobserved(recording, vectors, "get no embedding")
            recording = recording.select_neurons(keep)
            result = annotate_recording(recording, vectors[keep], as_embedded(provenance, recording, missing),
                                        name=name or DEFAULT_NAME, overwrite=overwrite, output_dir=output_dir,
                                        relative_path=source.relative_path, sidecar=sidecar, claimed=claimed,
                                        lock_timeout=timeout)
            outcomes.append(AnnotateOutcome(source=source.label(), status=result.kind, path=str(result.path),
                                            n_neurons=int(keep.sum()), n_silent=int(recording.silent().sum())))
        except (SidecarFile, NoNeurons) as exc:
            outcomes.append(AnnotateOutcome(source=source.label(), status="skipped", error=exc.one_line()))
        except OtherModality as exc:
            other_kind.append(len(outcomes))
            outcomes.append(AnnotateOutcome(source=source.label(), status="failed", error=exc.one_line()))
        except NeurPIRError as exc:
            log.info("annotating %s failed: %s", source.label(), exc)
            outcomes.append(AnnotateOutcome(source=source.label(), status="failed", error=exc.one_line()))
    return other_modality_skipped(outcomes, other_kind)


def _unchanged_copied_or_refused(recording: Recording, model_sha256: str, name: str, output_dir: str | Path | None,
                          relative_path: str | None, sidecar: bool | None, claimed: set[Path],
                          lock_timeout: float) -> tuple[str, Path, int] | None:
    """Before embedding (the slow part), under the lock of the file ``annotate_recording`` would write (waiting for
    its writer; clearing what killed ones left): ``unchanged``, that file and its neuron count when it already holds
    these embeddings (``holds_same_embeddings``: same model, neuron selection and neurons, those with observed
    activity), to be left as it is; ``copy``, when a copy in ``output_dir`` is still to be made and the source
    already holds them: the source is copied as it is. Otherwise the errors the write would give at the end: the
    file (the source in place, or its copy in ``output_dir``) belongs to another user, holds another recording, or
    already holds embeddings ``name``; an existing sidecar is refused when written."""
    from nwb_neurpir.followed_links import resolved_for_writing
    from nwb_neurpir.store.annotate import copy_as_annotated, holds_same_embeddings, planned_target
    from nwb_neurpir.store.atomic import staged_replace
    from nwb_neurpir.store.write import earlier_copy_or, refuse_existing

    planned = planned_target(recording.source, name, output_dir, relative_path, sidecar, recording.subject_id,
                             recording.session_id, claimed)
    how = planned.kind
    target = resolved_for_writing(planned.path) if how == "in-place" else planned.path  # what write_embeddings locks
    ids = recording.neuron_ids if recording.observed is None else recording.neuron_ids[recording.observed.any(axis=1)]
    if how == "copy" and target not in claimed and not target.exists() and holds_same_embeddings(
            Path(recording.source.location), name, model_sha256, recording.neuron_selection(), ids):
        return "copy", copy_as_annotated(recording.source, target, claimed, lock_timeout).path, int(ids.size)
    if target in claimed or not target.exists():
        return None
    with staged_replace(target, lock_timeout):
        if how == "copy":
            earlier_copy_or(Path(recording.source.location), target, in_place=False)
        if holds_same_embeddings(target, name, model_sha256, recording.neuron_selection(), ids):
            return "unchanged", planned.path, int(ids.size)
        if how != "sidecar":
            refuse_existing(target, name, recording.neuron_table)
    return None


def other_modality_skipped(outcomes: list[Outcome], other_kind: list[int]) -> list[Outcome]:
    """``outcomes`` with the failed ones at ``other_kind`` (files holding only the other modality's neurons) marked
    skipped when any other source was tried (a dandiset's ``_ecephys.nwb`` beside its ``_ophys.nwb``); when every
    source tried is of the other kind, they stay failures that blame the model."""
    others = set(other_kind)
    if not any(index not in others and outcome.status != "skipped" for index, outcome in enumerate(outcomes)):
        return outcomes
    return [dataclasses.replace(outcome, status="skipped") if index in others else outcome
            for index, outcome in enumerate(outcomes)]


def as_embedded(provenance: ModelProvenance, recording: Recording, missing: list[str]) -> ModelProvenance:
    """The model's provenance for this file: its hyperparameters JSON gains ``embedding`` (the neuron filter,
    calcium series or units table and ``during`` intervals the file was read with, see
    ``Recording.neuron_selection``) and its description says how this file was read: the calcium traces or units it
    embedded, the neuron filter, the time read, the context inputs it lacked."""
    what = "Calcium traces" if recording.modality == "ophys" else "Spike times"
    said = [f"{what} read from /{recording.activity_series}."] if recording.activity_series else []
    if recording.unit_filter is not None:
        said.append(f"Only the neurons passing the filter {recording.unit_filter!r} were embedded, each in the "
                    "context of those neurons only.")
    if recording.during is not None:
        said.append(f"Only the time during {recording.during} was read.")
    if missing:
        said.append(f"Context inputs missing in this file and set to their training mean when embedding it: "
                    f"{', '.join(missing)}.")
    return dataclasses.replace(provenance, description=" ".join([provenance.description, *said]),
                               hyperparameters={**provenance.hyperparameters,
                                                "embedding": recording.neuron_selection()})
