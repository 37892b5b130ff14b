"""The ``neurpir`` command line (Typer). Each command lives in ``cmd_<verb>.py`` and imports heavy libraries lazily."""
