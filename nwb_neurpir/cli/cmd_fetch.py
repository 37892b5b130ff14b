"""`neurpir fetch`: (being built)."""

from __future__ import annotations

import typer

from nwb_neurpir.errors import NeurPIRError


def register(app: typer.Typer) -> None:
    """Add `fetch` to the app."""

    @app.command("fetch")
    def fetch() -> None:
        """Not available yet."""
        raise NeurPIRError("this command is not built yet")
