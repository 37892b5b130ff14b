"""What `neurpir predict` writes into an unseen animal's file: NeurPIR trained on the training animals' copies, those
annotated, a ``LabelProbe`` fitted on them for each choice of probe inputs, and the balanced accuracy of the labels
it writes into the held-out animal's copy (read back from the file).

    python -m benchmarks.bench_label_probe --data /tmp/neurpir-sim-demo --glob "*_ophys.nwb" --test-animal sim04 \
        --label cell_type --set max_steps=800 --set num_threads=1
    python -m benchmarks.bench_label_probe --data ../shared/data/steinmetz2019-nwb --test-animal Hench \
        --label brain_area --grouping steinmetz-4region --set num_threads=1
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_model_common import bench_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder of sub-<animal>/ folders of NWB files")
    parser.add_argument("--glob", default="*.nwb")
    parser.add_argument("--test-animal", required=True)
    parser.add_argument("--label", default="cell_type")
    parser.add_argument("--grouping", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config key=value")
    args = parser.parse_args()

    import warnings

    import nwb_neurpir as npir
    from nwb_neurpir.evaluation.grouping import group_labels, load_grouping
    from nwb_neurpir.evaluation.metrics import score_fold
    from nwb_neurpir.store import read_predictions

    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="bench-label-probe-") as scratch:
        copies: dict[str, list[Path]] = {}
        for path in sorted(args.data.glob(f"sub-*/{args.glob}")):
            animal = path.parent.name.removeprefix("sub-")
            target = Path(scratch) / path.parent.name / path.name
            target.parent.mkdir(exist_ok=True)
            copies.setdefault(animal, []).append(Path(shutil.copyfile(path, target)))
        if args.test_animal not in copies:
            raise SystemExit(f"error: no animal {args.test_animal!r} in {args.data} (found {', '.join(copies)})")
        training = [path for animal, paths in copies.items() if animal != args.test_animal for path in paths]
        test = copies[args.test_animal]
        config = bench_config(args.overrides).to_dict()
        start = time.perf_counter()
        model = npir.NeurPIR(**config).fit(training, progress=False)
        print(f"trained on {len(training)} files of {len(copies) - 1} animals in {time.perf_counter() - start:.0f} s")
        npir.annotate(model, training + test, progress=False)
        grouping = None if args.grouping is None else load_grouping(args.grouping)
        for inputs in ("neurpir", "neurpir+hand"):
            start = time.perf_counter()
            probe = npir.LabelProbe(args.label, grouping, inputs=inputs).fit(training)
            fitted = time.perf_counter() - start
            name = f"predicted_{args.label}_{inputs.replace('+', '_')}"
            start = time.perf_counter()
            npir.predict(probe, test, name=name, progress=False)
            written = time.perf_counter() - start
            truth, predicted = [], []
            for path in test:
                table = npir.read_embeddings(path, predictions=False)
                labels = read_predictions(path, name).set_index("neuron_id")["label"]
                grouped = group_labels(table[args.label].tolist(), grouping)
                truth.extend(grouped.labels.tolist())
                predicted.extend(labels.loc[table["neuron_id"][grouped.keep]].tolist())
            score = score_fold(np.asarray(truth), np.asarray(predicted), probe.classes_)
            folds = ", ".join(f"{fold} {value:.3f}" for fold, value in probe.fold_accuracy_.items())
            print(f"{inputs:>13}: written labels of {args.test_animal} balanced accuracy "
                  f"{score.balanced_accuracy:.3f} (chance {1 / len(set(truth)):.3f}, {len(truth)} neurons); "
                  f"probe's cross-animal accuracy {probe.cross_animal_accuracy_:.3f} ({folds}); "
                  f"fit {fitted:.0f} s, predict {written:.0f} s")


if __name__ == "__main__":
    main()
