"""Generate the ndx-neurpir spec YAML (``spec/ndx-neurpir.namespace.yaml`` and ``spec/ndx-neurpir.extensions.yaml``).

Run ``python src/spec/create_extension_spec.py`` from ``extensions/ndx-neurpir/`` after changing a type, and commit the
YAML it writes. A test regenerates the spec into a temporary folder and compares it with the committed files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pynwb.spec import (
    NWBAttributeSpec,
    NWBDatasetSpec,
    NWBGroupSpec,
    NWBLinkSpec,
    NWBNamespaceBuilder,
    export_spec,
)

NAMESPACE = "ndx-neurpir"
VERSION = "0.2.4"
SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"


def _text_attribute(name: str, doc: str, required: bool = True) -> NWBAttributeSpec:
    return NWBAttributeSpec(name=name, doc=doc, dtype="text", required=required)


def neurpir_model_spec() -> NWBGroupSpec:
    """``NeurPIRModel``: the provenance of a set of embeddings (which model, trained how, on what)."""
    return NWBGroupSpec(
        neurodata_type_def="NeurPIRModel",
        neurodata_type_inc="NWBDataInterface",
        doc=(
            "The NeurPIR model that produced a set of neuron embeddings: software version, hyperparameters, checksum of "
            "the checkpoint and the sessions it was trained on."
        ),
        attributes=[
            _text_attribute("description", "What the model is and how it was trained."),
            _text_attribute("package_version", "Version of the nwb-neurpir package that trained the model."),
            _text_attribute("checkpoint_sha256", (
                "SHA-256 hex digest of the model folder's manifest.json, which lists the SHA-256 of each of its files "
                "(weights, config.json, model.json); model.json holds the creation time, so two otherwise identical "
                "trainings have the same weights but different checksums.")),
            # text, not isodatetime: hdmf before 4 hands a stored ISO string to a docval that wants a datetime, so
            # pynwb before 3.0 could not read a file holding an isodatetime attribute of an extension.
            _text_attribute("created", "When the model was created: ISO 8601 date and time with its UTC offset, e.g. "
                                       "'2025-03-01T09:30:00+00:00'."),
        ],
        datasets=[
            NWBDatasetSpec(name="hyperparameters", dtype="text", doc=(
                "Model hyperparameters as a JSON object with sorted keys. nwb-neurpir also records there the bin size "
                "('bin_size'), the context's inputs ('context_covariates'), how the model was trained ('training': "
                "each run's steps, max_steps, threads, device, processes and software versions, and each training "
                "session's neuron filter and calcium series) and how the neurons of this file were read "
                "('embedding': 'unit_filter' and 'activity_series').")),
            NWBDatasetSpec(name="training_data", dtype="text", dims=["num_sessions"], shape=[None],
                           doc="DANDI asset IDs or NWB file identifiers of the sessions the model was trained on."),
        ],
    )


def neurpir_source_spec() -> NWBGroupSpec:
    """``NeurPIRSource``: the identity of the NWB file whose neurons a sidecar file describes."""
    return NWBGroupSpec(
        neurodata_type_def="NeurPIRSource",
        neurodata_type_inc="NWBDataInterface",
        doc=(
            "Identity of the source NWB file whose neurons are embedded, for embeddings stored in a separate (sidecar) "
            "file because the source could not be modified, e.g. a DANDI asset."
        ),
        attributes=[
            _text_attribute("identifier", "The 'identifier' of the source NWB file."),
            _text_attribute("location", "Local path or URL of the source NWB file when the embeddings were made."),
            _text_attribute("neuron_table", "HDF5 path of the source table whose rows are the neurons, e.g. 'units'."),
            _text_attribute("dandiset_id", "DANDI archive dandiset ID of the source, e.g. '000207'.", required=False),
            _text_attribute("dandiset_version", "Version of the dandiset, e.g. 'draft'.", required=False),
            _text_attribute("asset_id", "DANDI archive asset ID of the source file.", required=False),
            _text_attribute("asset_path", "Path of the source file inside the dandiset.", required=False),
        ],
    )


def neuron_embeddings_spec() -> NWBGroupSpec:
    """``NeuronEmbeddings``: one row per neuron, a region into its source table and its embedding vector."""
    return NWBGroupSpec(
        neurodata_type_def="NeuronEmbeddings",
        neurodata_type_inc="DynamicTable",
        doc=(
            "One intrinsic representation (embedding) per neuron, learned by a NeurPIR model. Each row points at the "
            "neuron's row in its source table: the Units table for spiking data, a PlaneSegmentation for calcium ROIs, "
            "or, in a sidecar file, a copy of the source table's label columns."
        ),
        datasets=[
            NWBDatasetSpec(
                name="neurons",
                neurodata_type_inc="DynamicTableRegion",
                doc="Row of each neuron in its source table (Units, PlaneSegmentation or a DynamicTable of labels).",
            ),
            NWBDatasetSpec(
                name="embedding",
                neurodata_type_inc="VectorData",
                dtype="float32",
                dims=["num_neurons", "embedding_dim"],
                shape=[None, None],
                doc="Embedding vector of each neuron (dimensionless, one row per neuron).",
            ),
            NWBDatasetSpec(
                name="silent",
                neurodata_type_inc="VectorData",
                dtype="bool",
                dims=["num_neurons"],
                shape=[None],
                quantity="?",
                doc=("True for a neuron with no activity in the time its embedding was computed from (a unit without "
                     "spikes there): its vector is computed like the others', but says nothing about the neuron; "
                     "every such neuron of a file gets about the same one. Absent in files written before version "
                     "0.2.4."),
            ),
        ],
        links=[
            NWBLinkSpec(name="model", target_type="NeurPIRModel", doc="The model that produced the embeddings."),
            NWBLinkSpec(name="source_file", target_type="NeurPIRSource", quantity="?",
                        doc="The source NWB file of the neurons, when the embeddings live in a sidecar file."),
        ],
    )


def neurpir_probe_spec() -> NWBGroupSpec:
    """``NeurPIRProbe``: a classifier that reads a label off NeurPIR embeddings, and how well it did on new animals."""
    return NWBGroupSpec(
        neurodata_type_def="NeurPIRProbe",
        neurodata_type_inc="NWBDataInterface",
        doc=(
            "A supervised probe (e.g. logistic regression) fitted on the embeddings of labelled neurons to predict a "
            "label (cell type, brain area) for other neurons: what it predicts, what it was fitted on, and its "
            "accuracy on animals left out of its fit."
        ),
        attributes=[
            _text_attribute("description", "What the probe is and how it was fitted."),
            _text_attribute("kind", "Probe kind, e.g. 'logistic' (standardised inputs, balanced class weights)."),
            _text_attribute("label", "The neuron column the probe was fitted to predict, e.g. 'brain_area'."),
            _text_attribute("grouping", "JSON of the grouping of raw label values into classes ('' for none).",
                            required=False),
            _text_attribute("package_version", "Version of the nwb-neurpir package that fitted the probe."),
            _text_attribute("checkpoint_sha256", "SHA-256 hex digest of the saved probe (its manifest)."),
            NWBAttributeSpec(name="cross_animal_accuracy", dtype="float64", required=False,
                             doc=("Balanced accuracy of the probe on the neurons of each training animal left out "
                                  "of its fit (leave-one-animal-out), averaged over animals.")),
            _text_attribute("inputs", ("What the probe reads: 'neurpir' (the NeurPIR embeddings) or 'neurpir+hand' "
                                       "(the embeddings and the neurons' hand features, by late fusion)."),
                            required=False),
            _text_attribute("labels_file_sha256", ("SHA-256 hex digest of the labels file (CSV/TSV) whose labels "
                                                   "replaced those of the training files, when one was used."),
                            required=False),
        ],
        datasets=[
            NWBDatasetSpec(name="class_names", dtype="text", dims=["num_classes"], shape=[None],
                           doc="The classes, in the order of the columns of the predicted probabilities."),
            NWBDatasetSpec(name="training_data", dtype="text", dims=["num_files"], shape=[None],
                           doc=("The labelled recordings the probe was fitted on, named as NeurPIRModel's "
                                "training_data names them: DANDI asset IDs or NWB file identifiers (local paths of "
                                "the annotated files in files written before version 0.2.3).")),
            _optional_dataset("training_subjects", "text", "num_files",
                              "Subject (animal) of each recording of training_data."),
            _optional_dataset("training_sessions", "text", "num_files",
                              "Session id of each recording of training_data."),
            _optional_dataset("class_counts", "int64", "num_classes",
                              "Labelled training neurons of each class, in the order of class_names."),
            _optional_dataset("held_out_subjects", "text", "num_folds",
                              "Each training animal left out of a fit to measure cross_animal_accuracy."),
            _optional_dataset("held_out_accuracy", "float64", "num_folds",
                              "Balanced accuracy on the neurons of each animal of held_out_subjects, predicted by "
                              "the probe fitted on the other animals."),
            _optional_dataset("hand_features", "text", "num_features",
                              "The hand features the probe reads besides the embeddings (inputs 'neurpir+hand')."),
        ],
    )


def _optional_dataset(name: str, dtype: str, dim: str, doc: str) -> NWBDatasetSpec:
    """An optional one-dimensional dataset (added in 0.2.3: files of earlier versions lack it)."""
    return NWBDatasetSpec(name=name, dtype=dtype, dims=[dim], shape=[None], quantity="?", doc=doc)


def neuron_predictions_spec() -> NWBGroupSpec:
    """``NeuronPredictions``: one row per neuron, a region into its source table, the predicted label and the class
    probabilities."""
    return NWBGroupSpec(
        neurodata_type_def="NeuronPredictions",
        neurodata_type_inc="DynamicTable",
        doc=(
            "A label predicted for each neuron by a NeurPIRProbe from the neuron's NeurPIR embedding. Each row points "
            "at the neuron's row in its source table (Units, PlaneSegmentation, or a sidecar's table of labels)."
        ),
        datasets=[
            NWBDatasetSpec(
                name="neurons",
                neurodata_type_inc="DynamicTableRegion",
                doc="Row of each neuron in its source table (Units, PlaneSegmentation or a DynamicTable of labels).",
            ),
            NWBDatasetSpec(name="label", neurodata_type_inc="VectorData", dtype="text",
                           doc="The predicted class of each neuron (the most probable one)."),
            NWBDatasetSpec(
                name="probability",
                neurodata_type_inc="VectorData",
                dtype="float32",
                dims=["num_neurons", "num_classes"],
                shape=[None, None],
                doc="Probability of each class (columns in the order of the probe's class_names) for each neuron.",
            ),
        ],
        links=[
            NWBLinkSpec(name="model", target_type="NeurPIRModel", doc="The model that produced the embeddings."),
            NWBLinkSpec(name="probe", target_type="NeurPIRProbe", doc="The probe that made the predictions."),
        ],
    )


def main(output_dir: str | Path = SPEC_DIR) -> None:
    """Write the namespace and extensions YAML into ``output_dir``."""
    builder = NWBNamespaceBuilder(
        doc="Per-neuron embeddings learned by NeurPIR and the provenance of the model that made them.",
        name=NAMESPACE,
        version=VERSION,
        author=["nwb-neurpir developers"],
    )
    # The whole core namespace (which includes hdmf-common), not a list of types: the validator then knows that a
    # region may point at any DynamicTable subtype (Units, PlaneSegmentation), and the spec cached in files (which
    # hdmf writes with whole-namespace includes) says the same as this one.
    types = [neurpir_model_spec(), neurpir_source_spec(), neuron_embeddings_spec(), neurpir_probe_spec(),
             neuron_predictions_spec()]
    export_spec(builder, types, str(output_dir))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else SPEC_DIR)
