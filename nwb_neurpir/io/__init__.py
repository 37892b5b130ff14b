"""Readers: NWB files (local or streamed from DANDI) into ``Recording`` objects."""
