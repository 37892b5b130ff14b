"""`neurpir demo`: the whole workflow on a simulated population, no network, a few minutes on 2 cores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.options import JsonOutput, Progress, Threads, command_line


def register(app: typer.Typer) -> None:
    """Add `demo` to the app."""

    @app.command("demo")
    def demo(
        out: Annotated[Path, typer.Option("--out", help="Folder for the simulated files, model and report.")] =
            Path("neurpir-demo"),
        seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation and the training.")] = 0,
        max_steps: Annotated[
            Optional[int],  # noqa: UP007
            typer.Option("--max-steps", help="Training steps (default: 600)."),
        ] = None,
        threads: Threads = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help=(
            "Start afresh in a folder an earlier demo wrote: simulate, train and annotate again (without it, a run "
            "again keeps the simulated files and their embeddings and continues the training)."))] = False,
        as_json: JsonOutput = False,
        progress: Progress = None,
        tiny: Annotated[bool, typer.Option("--tiny", hidden=True, help=(
            "For tests: 3 animals x 25 neurons x 20 s, a 3-step model and a PCA map instead of the UMAP (seconds, "
            "not minutes)."))] = False,
    ) -> None:
        """Simulate Izhikevich neurons of 5 types in several animals, train NeurPIR without one animal, write the
        embeddings into the NWB files, and compare cell-type prediction on the unseen animal with hand-made features.

        The report records this command with --threads set to the count training used, so that it trains the same
        weights again.

        Example: neurpir demo --out neurpir-demo
        """
        from nwb_neurpir.workflows.demo import run_demo
        from nwb_neurpir.testing import tiny_config, tiny_population

        sizes = {"population": tiny_population(), "config": tiny_config(), "projection": "pca"} if tiny else {}
        result = run_demo(out, seed=seed, max_steps=max_steps, num_threads=threads, progress=progress,
                          say=(lambda _text: None) if as_json else typer.echo, command=command_line(),
                          overwrite=overwrite, **sizes)
        if as_json:
            typer.echo(json.dumps(result.to_dict(), indent=2))
            return
        typer.echo("")
        typer.echo(result.table)
        typer.echo(f"\nheld-out animal {result.test_subject} (never seen in training), balanced accuracy "
                   f"(chance {result.chance:.2f}):")
        for method, score in result.scores.items():
            typer.echo(f"  {method:<24} {score:.3f}")
        typer.echo(f"\nmodel:     {result.model_dir}")
        typer.echo(f"NWB files: {result.out_dir / 'data'} ({len(result.data_files)} files, annotated in place)")
        for kind, path in result.report_files.items():
            typer.echo(f"{kind + ':':<10} {path}")
        typer.echo(f"seconds:   {', '.join(f'{k} {v:g}' for k, v in result.seconds.items())}")
