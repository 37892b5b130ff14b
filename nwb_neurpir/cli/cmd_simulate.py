"""`neurpir simulate`: write a simulated Izhikevich population with known cell types as DANDI-style NWB files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.options import JsonOutput, choice, progress_option


def register(app: typer.Typer) -> None:
    """Add `simulate` to the app."""

    @app.command("simulate")
    def simulate(
        out_dir: Annotated[Path, typer.Argument(help="Folder for the files (sub-<id>/sub-<id>_ses-<id>_*.nwb).",
                                                show_default=False)],
        preset: Annotated[str, choice(
            "nwb_neurpir.simulate.population:PRESETS", "--preset", help="paper: 3 animals x 2,000 neurons x 10 min; demo: 4 animals x 250 neurons x 5 min; "
                             "demo-shifted: demo with sim04 under shifted conditions (--shift both). The options "
                             "below override it.")] = "paper",
        animals: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--animals", help="Number of animals (each its own wiring, parameters and input gains).")] = None,
        sessions_per_animal: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--sessions-per-animal", help="Sessions per animal (new trials, running and noise).")] = None,
        neurons: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--neurons", help="Neurons per animal, split equally over RS, IB, CH, FS and LTS.")] = None,
        duration: Annotated[Optional[float], typer.Option(  # noqa: UP007
            "--duration", help="Seconds simulated per session.")] = None,
        modality: Annotated[str, choice(
            "nwb_neurpir.simulate.nwb_output:MODALITIES", "--modality", help="spikes (_ecephys.nwb with Units), ophys (_ophys.nwb with calcium traces) or both.")]
        = "spikes",
        shift: Annotated[Optional[str], typer.Option(  # noqa: UP007
            "--shift", help="Give some animals other peripheral conditions (their neurons stay the same kind): "
                            "behaviour (running ~90 % of the time, faster), stimulus (contrasts 0.05/0.8, shorter and "
                            "more frequent trials) or both.")] = None,
        shifted_animals: Annotated[Optional[list[int]], typer.Option(  # noqa: UP007
            "--shifted-animal", metavar="<int>", help="Animal number (1 = sim01) under --shift; repeat for several "
                                     "[default: the last animal].")] = None,
        seed: Annotated[Optional[int], typer.Option(  # noqa: UP007
            "--seed", help="Seed of everything: the same seed writes the same content (every dataset, every "
                           "attribute but the object ids), though not byte for byte: pynwb gives each HDF5 object a "
                           "random object_id, so checksums of the files differ.")] = None,
        backend: Annotated[str, choice(
            "nwb_neurpir.simulate.integrator:Backend", "--backend", help="auto (numba when installed), numba or numpy (same spikes, slower).")] = "auto",
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace files that already exist.")] = False,
        progress: Annotated[Optional[bool], progress_option("Show a progress bar.")] = None,  # noqa: UP007
        as_json: JsonOutput = False,
    ) -> None:
        """Simulate recurrent Izhikevich (2003) populations with five known cell types, driven by noise, a stimulus
        with trials at several contrasts and running speed, and write one NWB file per session.

        Example: neurpir simulate sim/ --preset demo --modality both --seed 1
        (writes sim/sub-sim01/sub-sim01_ses-sim01s01_ecephys.nwb, ..._ophys.nwb, and the same for sim02..sim04).
        With --shift both, sim04 runs far more and sees other contrasts: a test of invariance to conditions.
        """
        from nwb_neurpir.workflows.simulation import simulate_dataset

        run = simulate_dataset(out_dir, preset, modality=modality, shift=shift, shifted_animals=shifted_animals,
                               backend=backend, overwrite=overwrite, progress=progress and not as_json,
                               n_animals=animals, sessions_per_animal=sessions_per_animal, n_neurons=neurons,
                               duration_s=duration, seed=seed)
        if as_json:
            typer.echo(json.dumps(run.to_dict(), indent=2))
            return
        for path in run.paths:
            typer.echo(str(path))
        config = run.config
        shifted = f", shifted conditions: {', '.join(run.to_dict()['shifted_subjects'])}" if config.shifted_animals \
            else ""
        typer.echo(f"{len(run.paths)} file(s): {config.n_animals} animal(s) x {config.sessions_per_animal} session(s) "
                   f"x {config.n_neurons} neurons x {config.duration_s:g} s, seed {config.seed}{shifted}, in "
                   f"{run.elapsed_s:.1f} s")
