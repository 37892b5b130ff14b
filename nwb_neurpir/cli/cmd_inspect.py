"""`neurpir inspect`: (being built)."""

from __future__ import annotations

import typer

from nwb_neurpir.errors import NeurPIRError


def register(app: typer.Typer) -> None:
    """Add `inspect` to the app."""

    @app.command("inspect")
    def inspect() -> None:
        """Not available yet."""
        raise NeurPIRError("this command is not built yet")
