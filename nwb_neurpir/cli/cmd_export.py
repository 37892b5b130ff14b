"""`neurpir export`: a model folder to share, with a model card, without training checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.options import JsonOutput, ModelFolder


def register(app: typer.Typer) -> None:
    """Add `export` to the app."""

    @app.command("export")
    def export(
        model_dir: ModelFolder,
        out: Annotated[Path, typer.Argument(help="The new folder to write (it must not exist, or be empty).",
                                            show_default=False)],
        redact: Annotated[bool, typer.Option(
            "--redact", help="Name each training recording by the sha256 of its identifier (evaluate still "
                             "recognises it), and leave out subject ids, file paths and unit filters, in model.json, "
                             "the card and the probes.")] = False,
        license: Annotated[Optional[str], typer.Option(  # noqa: UP007, A002
            "--license", help="SPDX licence identifier (e.g. CC-BY-4.0) recorded in model.json and the card.")]
        = None,
        include_probes: Annotated[bool, typer.Option(
            "--include-probes", help="Also export the probes kept beside the model (probes/<name>).")] = False,
        as_json: JsonOutput = False,
    ) -> None:
        """Write MODEL as a new folder OUT to share: weights, config and model.json under a manifest of their
        checksums, and a generated MODEL_CARD.md (package version, modality, bin size, covariates, architecture,
        training, training data, licence, how to use it). Training checkpoints (checkpoints/, only needed to resume
        training) are left out; probes only with --include-probes. Without --redact and --license model.json is
        unchanged, so the model keeps its checksum; otherwise the exported model has its own (its probes follow it).

        Example: neurpir export model shared-model --redact --license CC-BY-4.0
        """
        from nwb_neurpir.model import NeurPIR as TrainedModel
        from nwb_neurpir.model.summary import fact_lines, model_facts
        from nwb_neurpir.workflows.model_export import export_model

        folder = export_model(model_dir, out, redact=redact, license=license, include_probes=include_probes)
        facts = model_facts(TrainedModel.load(folder), folder)
        if as_json:
            typer.echo(json.dumps(facts, indent=2))
            return
        typer.echo(f"exported to {folder} (MODEL_CARD.md, model sha256 {facts['sha256'][:16]}…)")
        typer.echo("\n".join(f"  {line}" for line in fact_lines(facts)))


__all__ = ["register"]
