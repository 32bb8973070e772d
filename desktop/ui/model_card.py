"""Help ▸ Model card: what the loaded detector is, how it decides, and what it was measured on."""

from __future__ import annotations

import html
import re
from pathlib import Path

from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from desktop.export import EXPERT_LABELS, model_label
from desktop.ui.settings_dialog import thresholds_text
from desktop.ui.style import rich_text_css
from engine.contract import LogitScaling


def _rows(items) -> str:
    return "".join(f"<tr><td class='muted' style='padding-right:10px'>{html.escape(str(key))}</td>"
                   f"<td>{html.escape(str(value))}</td></tr>" for key, value in items)


def _section(title: str) -> str:
    """A heading row inside the card's one table, so every section's values start at the same place."""
    return f"<tr><td colspan='2' style='padding-top:12px'><b>{html.escape(title)}</b></td></tr>"


def probabilities_text(scaling: LogitScaling) -> str:
    if scaling == LogitScaling():
        return "the model's own scores (not rescaled on validation images)"
    return ("adjusted on held-back images so that a score is the chance of a fake when fakes and real photos "
            f"are equally common (Platt scaling: the score is the sigmoid of {scaling.scale:.3g} × the model's "
            f"logit {scaling.offset:+.3g})")


METHODS = {"sef": "SEF: separately trained experts, one per kind of fake, fused by a gate",
           "mixed": "one adapter trained on every kind of fake"}  # MoLE is an adapter (ADAPTERS), not a method
ADAPTERS = {"lora": "LoRA adapters on the frozen backbone", "mole": "mixture of LoRA experts", "none": "none"}
MEASURES = {"ap": "Average precision (1 is perfect)", "auc": "ROC AUC (1 is perfect, 0.5 chance)",
            "acc_balanced": "Balanced accuracy", "tpr_at_1fpr": "Fakes caught (1% false alarms)",
            "fakes_likely_ai": "Fakes called likely AI", "reals_likely_ai": "Real photos called likely AI"}
SHARES = {"acc_balanced", "tpr_at_1fpr", "fakes_likely_ai", "reals_likely_ai"}  # shown as percentages


def _plain(value) -> str:
    """A metadata value as a person reads it: yes/no, "key: value" pairs, not Python's reprs."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')}: {_plain(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(item) for item in value)
    return str(value)


def training_rows(training: dict) -> list[tuple[str, str]]:
    """The "How it was made" rows: known keys in words, any other as it is."""
    rows = []
    for key, value in training.items():
        if key == "method":
            rows.append(("Method", METHODS.get(str(value), str(value))))
        elif key == "adapter":
            rows.append(("Adapter", ADAPTERS.get(str(value), str(value))))
        elif key == "backbone":
            rows.append(("Backbone", str(value)))
        elif key == "gamma":
            rows.append(("Manipulation maps", "GAMMA segmentation heads" if value else "none"))
        elif key == "calibration" and isinstance(value, dict) and "n_real" in value:
            weighed = ", every photo weighing the same" if value.get("weighting") == "photo" else ""
            rows.append(("Calibrated on", f"{value['n_real']:,} real images of the {value.get('split', 'val')} split "
                                          f"(crops and processed copies of held-back photos{weighed})"))
        else:
            rows.append((key.replace("_", " ").capitalize(), _plain(value)))
    return rows


def measured_rows(metrics: dict) -> list[tuple[str, str]]:
    """The "Measured" rows: named measures, shares as percentages, the split they come from first."""
    rows = [("Images", f"the {metrics['split']} split, never trained or tuned on")] if "split" in metrics else []
    for key, value in metrics.items():
        if key == "split":
            continue
        label = MEASURES.get(key, key.replace("_", " ").capitalize())
        shown = f"{value:.1%}" if key in SHARES and isinstance(value, (int, float)) else _plain(value)
        rows.append((label, shown))
    return rows


def cascade_text(meta) -> str:
    cascade = meta.early_exit
    if not cascade.first_crops:
        return "none: every crop is scored"
    return (f"the first {cascade.first_crops} crops decide alone when their score lies more than "
            f"{100 * cascade.margin:.0f} points beyond a band; otherwise all {meta.max_crops} are scored")


PLAIN_BLIND_SPOTS = "What it cannot detect, in plain words"  # the card file's section the app shows


def blind_spots(model_path: str | Path, name: str, version: str) -> list[str]:
    """The plain-words "What it cannot detect" of the MODEL_CARD.md shipped beside a model file (the built-in
    model's), one text per bullet; [] where there is no such card, or it is not this model's (another file in
    that folder, or another version under its name: the card's title names the model, its table each file with
    its version). What a model cannot detect matters more than its AP. (The card's "Known blind spots" holds the
    figures and commands: for developers.)"""
    try:
        card = (Path(model_path).parent / "MODEL_CARD.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    row = next((line for line in card.splitlines() if line.startswith(f"| `{Path(model_path).name}` |")), "")
    cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
    if not card.startswith(f"# {name} (") or version not in cells:
        return []
    section = re.search(rf"^## {re.escape(PLAIN_BLIND_SPOTS)}\s*$(.*?)(?=^## |\Z)", card, re.MULTILINE | re.DOTALL)
    if section is None:
        return []
    bullets = re.split(r"^- ", section.group(1), flags=re.MULTILINE)[1:]
    return [" ".join(bullet.replace("**", "").replace("`", "").split()) for bullet in bullets]


def in_short(meta) -> list[str]:
    """What a person needs before any figure: what each verdict is worth, in the model's own measures."""
    # The share at the model's own threshold; the TPR at 1% FPR is another threshold's (37% against 14% flagged).
    flagged_fakes = meta.metrics.get("fakes_likely_ai") if meta.metrics.get("split") == "test" else None
    rate = f"about {meta.thresholds.fpr:.0%} of real photos get it, and " if meta.thresholds.fpr else ""
    points = [f"Likely AI is a strong hint, not proof: {rate}a real photo processed much as the fakes it learned "
              "from were (enlarged, denoised, edited) can get it too."]
    if isinstance(flagged_fakes, (int, float)):
        points.append(f"It calls about {flagged_fakes:.0%} of the fakes it was tested on likely AI (made by the "
                      "generators it learned from, on photos it never saw), and far fewer of those made by "
                      "generators it never saw.")
    points.append("Likely real is not proof of a photo, and Uncertain means it cannot tell either way.")
    return points


def model_card_html(detector, message: str = "") -> str:
    """The card as HTML; without a detector, why there is none."""
    if detector is None:
        return f"<h3>No model loaded</h3><p>{html.escape(message or 'Choose a model file in Settings.')}</p>"
    meta = detector.metadata
    facts = [
        ("File", detector.path),
        ("Runs on", detector.active_provider.upper()),
        ("Precision", meta.precision),
        ("Crops", f"{meta.crop_size} px at native resolution, up to {meta.max_crops}, {meta.crop_plan} plan"),
        ("Aggregation", meta.aggregation),
        ("Cascade", cascade_text(meta)),
        ("Thresholds", thresholds_text(detector)),
        ("AI scores", probabilities_text(meta.logit_scaling)),
        ("Kinds of artifact", ", ".join(EXPERT_LABELS.get(name, name) for name in meta.expert_names)
         or "not reported by this model"),
        ("Artifact heatmap", "yes" if detector.has_artifact_map else "no (this model has no artifact map output)"),
    ]
    table = [_rows(facts)]
    for title, rows in (("How it was made", training_rows(meta.training)), ("Measured", measured_rows(meta.metrics))):
        if rows:
            table += [_section(title), _rows(rows)]
    spots = blind_spots(detector.path, meta.name, meta.version)
    # The first blind spot's first sentence leads, before the figures (an AP of 0.87 reads as a promise it
    # takes back); all of them close the card.
    lead = f"<p><b>{html.escape(spots[0].split('. ')[0].rstrip('.'))}.</b></p>" if spots else ""
    cannot = ("<h4>What it cannot detect</h4><ul>" + "".join(f"<li>{html.escape(spot)}</li>" for spot in spots)
              + "</ul>") if spots else ""
    short = "<ul>" + "".join(f"<li>{html.escape(point)}</li>" for point in in_short(meta)) + "</ul>"
    return (f"<h3>{html.escape(model_label(meta.name, meta.version))}</h3>{lead}{short}"
            f"<h4>Details</h4><table>{''.join(table)}</table>{cannot}")


class ModelCardDialog(QDialog):
    def __init__(self, detector, message: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model card")
        self.resize(640, 560)
        self.text = QTextBrowser()
        self.text.setAccessibleName("Model card")
        self.text.document().setDefaultStyleSheet(rich_text_css(QApplication.palette()))
        self.text.setHtml(model_card_html(detector, message))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
