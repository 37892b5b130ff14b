"""nwb-neurpir: learn one intrinsic vector per neuron from NWB recordings (NeurPIR, Wu et al., ICLR 2025)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
