"""Simulated Izhikevich populations with known cell types, written as DANDI-style NWB files (spikes or calcium)."""

from __future__ import annotations

from nwb_neurpir.simulate.calcium import CalciumSettings
from nwb_neurpir.simulate.context import CONTEXT_SHIFTS, ContextSettings, shift_context
from nwb_neurpir.simulate.izhikevich import CELL_TYPES, IZHIKEVICH_PARAMETERS
from nwb_neurpir.simulate.nwb_output import dandi_path, planned_paths, simulated_already, write_dataset, write_session
from nwb_neurpir.simulate.population import (
    DEMO,
    PRESETS,
    SimulatedSession,
    SimulationConfig,
    iter_sessions,
    simulate_population,
)

__all__ = [
    "CELL_TYPES",
    "CONTEXT_SHIFTS",
    "DEMO",
    "IZHIKEVICH_PARAMETERS",
    "PRESETS",
    "CalciumSettings",
    "ContextSettings",
    "SimulatedSession",
    "SimulationConfig",
    "dandi_path",
    "iter_sessions",
    "planned_paths",
    "shift_context",
    "simulate_population",
    "simulated_already",
    "write_dataset",
    "write_session",
]
