"""ndx-neurpir: NWB types for per-neuron embeddings and the model that made them (being built)."""
