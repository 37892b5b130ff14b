"""The ``neuron_table`` column of tables kept outside the NWB files (``--labels``, ``--vectors``): which table of a
file (``units``, a ``PlaneSegmentation``; its path or its name) a row's ``neuron_id`` is a row id of. Without it, a
row's id means the neuron of that id in the table read, whatever other tables of the file share the id."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from nwb_neurpir.errors import NeurPIRError
from nwb_neurpir.io.h5_tables import path_named

__all__ = ["NEURON_TABLE", "named_tables", "warn_implicit_table"]

NEURON_TABLE = "neuron_table"


def named_tables(values: Iterable[str], tables: Iterable[str]) -> list[str]:
    """Each value of a ``neuron_table`` column as the path of the one table among ``tables`` (paths without leading
    slash) that it names by its path or name (``PlaneSegmentation``, ``units_kilosort``); else the value itself."""
    paths = sorted(set(tables))
    out = []
    for value in values:
        named = [path for path in paths if path_named(path, value)]
        out.append(named[0] if len(named) == 1 else value.strip("/"))
    return out


def warn_implicit_table(source: str, read: Sequence[tuple[str, str]]) -> None:
    """Warn once, for a table without a ``neuron_table`` column (``source``), when a file read (``read``: its local
    path and the path of the neuron table read from it) holds other neuron tables too (units and ROIs, two spike
    sortings): its rows are matched by neuron id to the tables read."""
    from nwb_neurpir.io.nwb_file import open_nwb
    from nwb_neurpir.store.checks import neuron_tables

    others: dict[str, set[str]] = {}
    for path, table in dict.fromkeys(read):
        if not Path(path).is_file():
            continue
        try:
            with open_nwb(path) as file:
                held = {name for name, _ in neuron_tables(file)}
        except NeurPIRError:
            continue
        if held - {table.strip("/")}:
            others.setdefault(table.strip("/"), set()).update(held - {table.strip("/")})
    if others:
        tables = ", ".join(f"/{table}" for table in others)
        rest = ", ".join(f"/{name}" for name in sorted(set().union(*others.values())))
        warnings.warn(f"{source}: has no {NEURON_TABLE} column, so its rows are matched by neuron id to the neurons "
                      f"of the table read ({tables}), though the files also hold {rest} with ids of their own; a "
                      f"{NEURON_TABLE} column (a table's path or name, as embed writes it) says which table each "
                      "row means", stacklevel=4)
