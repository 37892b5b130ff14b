"""`neurpir train`: fit a NeurPIR model on NWB sources and save it as a model folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.options import BinSize, CacheDir, Glob, Modality, Sources, UnitFilter

__all__ = ["register"]


def _config(config_file: Path | None, overrides: dict):  # noqa: ANN202 - NeurPIRConfig, imported lazily
    from nwb_neurpir.errors import NeurPIRError
    from nwb_neurpir.model import NeurPIRConfig

    values = {}
    if config_file is not None:
        try:
            values = json.loads(config_file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NeurPIRError(f"cannot read the config ({exc})", config_file) from None
        if not isinstance(values, dict):
            raise NeurPIRError("config must be a JSON object", config_file)
    values.update({key: value for key, value in overrides.items() if value is not None})
    return NeurPIRConfig.from_dict(values, str(config_file) if config_file else None)


def register(app: typer.Typer) -> None:
    """Add `train` to the app."""

    @app.command("train")
    def train(
        sources: Sources,
        out: Annotated[Path, typer.Option("--out", help="Model folder to write (checkpoints go inside).")],
        config_file: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--config", help="JSON file with NeurPIRConfig fields (see nwb_neurpir.model.NeurPIRConfig).")] = None,
        max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Training steps.")] = None,  # noqa: UP007
        batch_size: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--batch-size", help="Neurons per step.")] = None,
        context: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--context", help="cebra (default) or none.")] = None,
        seed: Annotated[Optional[int], typer.Option("--seed", help="Random seed.")] = None,  # noqa: UP007
        resume: Annotated[bool, typer.Option(
            "--resume/--no-resume", help="Continue from the last complete checkpoint in --out.")] = True,
        progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
        glob: Glob = None,
        modality: Modality = "auto",
        unit_filter: UnitFilter = None,
        bin_size: BinSize = None,
        cache_dir: CacheDir = None,
    ) -> None:
        """Train NeurPIR (CEBRA context + neuron encoder, VICReg) on all SOURCES together; runs under torchrun too.

        Example: neurpir train ../shared/data/steinmetz2019-nwb --out model --max-steps 1500
        """
        from nwb_neurpir.workflows import NeurPIR, open_recordings

        config = _config(config_file, {"max_steps": max_steps, "batch_size": batch_size, "context": context,
                                       "seed": seed})
        recordings = open_recordings(sources, glob, cache_dir=cache_dir, modality=modality, unit_filter=unit_filter,
                                     bin_size=bin_size, progress=progress)
        model = NeurPIR(**config.to_dict()).fit(recordings, out, progress=progress, resume=resume).fitted_model()
        summary = model.training_summary_
        context_text = ", ".join(model.context_.columns) if model.context_ is not None else "none"
        typer.echo(f"trained {summary['steps']} steps on {len(recordings)} recordings "
                   f"({summary['n_train_neurons']} + {summary['n_validation_neurons']} held-out neurons); "
                   f"context: {context_text}")
        typer.echo(f"model: {out} (sha256 {model.provenance().checkpoint_sha256[:16]}…)")
