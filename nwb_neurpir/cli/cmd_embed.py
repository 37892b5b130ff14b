"""`neurpir embed`: one vector per neuron from a trained model, to a .npz file or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nwb_neurpir.cli.options import CacheDir, Glob, JsonOutput, Progress, Sources, UnitFilter, load_model

__all__ = ["label_arrays", "register"]

_NPZ_KEYS = ("embeddings", "neuron_ids", "session", "subject_id", "model_sha256")


def label_arrays(tables: list) -> dict:  # noqa: ANN001 - pandas DataFrames (imported lazily)
    """The one-value-per-neuron label columns of the recordings' neuron tables, concatenated: numbers as float64 (NaN
    where a recording lacks the column), anything else as text ("" where absent); loadable without pickle."""
    import numpy as np
    import pandas as pd

    joined = pd.concat(tables, ignore_index=True)
    arrays = {}
    for column in joined.columns:
        values = joined[column]
        if str(column) in _NPZ_KEYS or values.map(lambda v: isinstance(v, (list, tuple, dict, np.ndarray))).any():
            continue
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            arrays[str(column)] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arrays[str(column)] = np.array(["" if pd.isna(v) else str(v) for v in values], dtype=str)
    return arrays


def register(app: typer.Typer) -> None:
    """Add `embed` to the app."""

    @app.command("embed")
    def embed(
        model_dir: Annotated[Path, typer.Argument(help="Model folder written by `neurpir train`.")],
        sources: Sources,
        out: Annotated[Optional[Path], typer.Option(  # noqa: UP007
            "--out", help="Write embeddings, neuron ids, sessions and label columns to this .npz file.")] = None,
        as_json: JsonOutput = False,
        progress: Progress = True,
        glob: Glob = None,
        unit_filter: UnitFilter = None,
        cache_dir: CacheDir = None,
    ) -> None:
        """Embed every neuron of SOURCES with a trained model (read on the model's time grid).

        By default a neuron's vector is made from at most 64 s of its activity (the model's embed_max_seconds), while
        training used the whole recordings. Context inputs of the model that a file lacks are set to zero, with a
        warning. Sidecar files among SOURCES are skipped.

        Example: neurpir embed model ../shared/data/steinmetz2019-nwb/sub-Cori --out cori.npz
        """
        import io

        import numpy as np
        from tqdm import tqdm

        from nwb_neurpir.annotate_sources import model_mismatch, warn_missing_context
        from nwb_neurpir.atomic_files import atomic_write_bytes
        from nwb_neurpir.errors import NeurPIRError
        from nwb_neurpir.io import open_recordings
        from nwb_neurpir.io.access import DataAccess
        from nwb_neurpir.io.nwb_reader import ModalityMismatch

        if out is not None and out.suffix != ".npz":
            raise NeurPIRError("--out must end in .npz", out)
        model = load_model(model_dir)
        rows = []
        recordings = open_recordings(sources, glob, access=DataAccess(cache_dir=cache_dir),
                                     modality=model.config.modality, unit_filter=unit_filter, bin_size=model.bin_size_,
                                     progress=progress, desc="embedding")
        try:
            for recording in recordings:
                warn_missing_context(model, recording)
                vectors = model.embed(recording, progress=progress)
                rows.append((recording, vectors))
                if not as_json:
                    tqdm.write(f"{recording.source.label()}: {recording.n_neurons} neurons -> {vectors.shape[1]}-d")
        except ModalityMismatch as exc:
            raise model_mismatch(exc) from None
        sha = model.provenance().checkpoint_sha256
        if out is not None:
            buffer = io.BytesIO()
            np.savez(
                buffer, embeddings=np.concatenate([v for _, v in rows]).astype(np.float32),
                neuron_ids=np.concatenate([r.neuron_ids for r, _ in rows]),
                session=np.concatenate([[r.source.label()] * r.n_neurons for r, _ in rows]).astype(str),
                subject_id=np.concatenate([[r.subject_id] * r.n_neurons for r, _ in rows]).astype(str),
                model_sha256=np.array(sha), **label_arrays([r.neuron_metadata for r, _ in rows]))
            atomic_write_bytes(out, buffer.getvalue())
            if not as_json:
                typer.echo(f"wrote {out}")
        if as_json:
            typer.echo(json.dumps({"model_sha256": sha, "recordings": [
                {"source": r.source.label(), "identifier": r.source.identifier, "subject_id": r.subject_id,
                 "neuron_ids": r.neuron_ids.tolist(),
                 "embeddings": [[None if not np.isfinite(x) else round(float(x), 6) for x in row] for row in v]}
                for r, v in rows]}))
