"""How closely a distilled student follows its teacher, crop by crop, on held-out images: what AP alone does
not show, whether its expert mix (the app's "kind of artifact") and its heatmap say what the teacher's say.

    python -m training.student_report --student RUN/checkpoint --teacher configs/checkpoints/lite0-sef-gamma-v12 \
        --data MANIFEST [--split val] [--images 300] [--out RUN/student_report.json]

The crops are the engine's (``--max-crops`` texture-chosen ones per image, as the shipped recipe). For the
probabilities: Pearson correlation and mean absolute gap; for the expert mixes (where both models have one):
how often both weigh the same expert most, and the mean absolute difference of the weights; for the artifact
maps (where both have one): the correlation of their cells. Overall and per family (reals as "real").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.contract import extract_crops, plan_for
from training.arguments import at_least, check_out_file, load_checkpoint_or_exit
from training.data import manifest
from training.records import family_name, load_records
from training.scoring import UndecodableImage, read_image


class ModelOutputs:
    """One model's outputs on a batch of uint8 NHWC crops, as numpy: probabilities, expert mix, map."""

    def __init__(self, detector):
        import torch

        from training.detector import merged_for_inference

        self.torch = torch
        self.detector = merged_for_inference(detector.eval())
        self.crop_size = detector.input_spec.crop_size
        self.expert_names = detector.input_spec.expert_names

    def __call__(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255.0)
            out = self.detector(self.detector.normalize(x))
        mix = None if out.expert_weights is None else out.expert_weights.numpy()
        cells = None if out.artifact_map is None else out.artifact_map.sigmoid().flatten(1).numpy()
        return out.logit.reshape(-1).sigmoid().numpy(), mix, cells


def agreement(student: dict[str, list], teacher: dict[str, list], experts: Sequence[str] = ()) -> dict:
    """The figures for one group of crops (each dict: "probability", "mix", "map" -> per-crop arrays);
    ``experts`` names the mixes' columns, for the table of which expert each side weighs most."""
    said, meant = np.concatenate(student["probability"]), np.concatenate(teacher["probability"])
    out: dict = {"images": len(student["probability"]), "crops": int(len(said)),
                 "probability_correlation": _correlation(said, meant),
                 "probability_mean_gap": float(np.abs(said - meant).mean())}
    if student["mix"] and teacher["mix"]:
        mine, theirs = np.concatenate(student["mix"]), np.concatenate(teacher["mix"])
        out["mix_top1_agreement"] = float((mine.argmax(axis=1) == theirs.argmax(axis=1)).mean())
        out["mix_mean_abs_difference"] = float(np.abs(mine - theirs).mean())
        names = list(experts) or [f"expert {i + 1}" for i in range(theirs.shape[1])]
        # teacher's top expert -> how often the student's top is each expert
        out["mix_top1_table"] = {names[t]: {names[m]: int(((theirs.argmax(1) == t) & (mine.argmax(1) == m)).sum())
                                            for m in range(len(names))} for t in range(len(names))}
    if student["map"] and teacher["map"] and student["map"][0].shape == teacher["map"][0].shape:  # else: grids differ
        out["map_cell_correlation"] = _correlation(np.concatenate(student["map"]).ravel(),
                                                   np.concatenate(teacher["map"]).ravel())
    return out


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson's r, or None where either side does not vary (a constant says nothing to correlate)."""
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def compare(student: ModelOutputs, teacher: ModelOutputs, records: Sequence, base: Path, max_crops: int) -> dict:
    groups: dict[str, tuple[dict, dict]] = {}
    for record in records:
        rgb = read_image(manifest.resolve(base, record.path)).rgb
        crops = extract_crops(rgb, plan_for(rgb, student.crop_size, max_crops, "texture"))
        name = family_name(record) if record.label else "real"
        for key in ("all", name):
            mine, theirs = groups.setdefault(key, ({"probability": [], "mix": [], "map": []},
                                                   {"probability": [], "mix": [], "map": []}))
            for side, model in ((mine, student), (theirs, teacher)):
                probability, mix, cells = model(crops)
                side["probability"].append(probability)
                if mix is not None:
                    side["mix"].append(mix)
                if cells is not None:
                    side["map"].append(cells)
    return {name: agreement(*sides, teacher.expert_names)
            for name, sides in sorted(groups.items(), key=lambda item: item[0] != "all")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.student_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", required=True, help="the student's checkpoint directory")
    parser.add_argument("--teacher", required=True, help="the teacher's checkpoint directory")
    parser.add_argument("--data", required=True, help="a manifest.jsonl, or a folder in a reader layout")
    parser.add_argument("--split", default="val")
    parser.add_argument("--images", type=at_least(1), default=300,
                        help="images compared, spread evenly over the split (default 300; each group reports "
                             "its count: a family of a few images says little)")
    parser.add_argument("--max-crops", type=at_least(1), default=8)
    parser.add_argument("--out", help="write the figures here as JSON too")
    parser.add_argument("--threads", type=at_least(1), default=2,
                        help="torch threads (default 2; 1 beside another heavy job: two threads spinning on a "
                             "busy 2-core CPU ran 11x slower)")
    args = parser.parse_args(argv)
    if args.out:
        check_out_file(parser, args.out)
    import torch

    torch.set_num_threads(args.threads)
    student = ModelOutputs(load_checkpoint_or_exit(parser, args.student))
    teacher = ModelOutputs(load_checkpoint_or_exit(parser, args.teacher))
    if student.crop_size != teacher.crop_size:
        parser.error(f"the student scores {student.crop_size} px crops, the teacher {teacher.crop_size} px")
    if student.expert_names and teacher.expert_names and student.expert_names != teacher.expert_names:
        parser.error(f"the student's experts ({', '.join(student.expert_names)}) are not the teacher's "
                     f"({', '.join(teacher.expert_names)}): their mixes cannot be compared")
    try:
        records, base = load_records(args.data, args.split)
    except ValueError as error:
        parser.error(str(error))
    chosen = [records[i] for i in sorted(set(np.linspace(0, len(records) - 1, args.images).round().astype(int)))]
    try:
        figures = compare(student, teacher, chosen, base, args.max_crops)
    except UndecodableImage as error:
        parser.error(f"{error} (take it out of the data)")
    report = {"student": args.student, "teacher": args.teacher, "data": str(args.data), "split": args.split,
              "images": len(chosen), "max_crops": args.max_crops, "groups": figures}
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    json.dump(figures["all"], sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
