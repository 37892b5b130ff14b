"""Evaluation of per-neuron vectors: probes on animals never seen, against hand-made baselines, with reports."""
