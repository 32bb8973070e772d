"""Help ▸ Model card: what the loaded detector is, how it decides, and what it was measured on."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from desktop.ui.settings_dialog import thresholds_text
from desktop.ui.style import rich_text_css
from engine.contract import LogitScaling


def _rows(items) -> str:
    return "".join(f"<tr><td class='muted' style='padding-right:10px'>{html.escape(str(key))}</td>"
                   f"<td>{html.escape(str(value))}</td></tr>" for key, value in items)


def probabilities_text(scaling: LogitScaling) -> str:
    if scaling == LogitScaling():
        return "the model's own scores (not rescaled on validation images)"
    return (f"rescaled on validation images (Platt: {scaling.scale:.3g} × logit {scaling.offset:+.3g}), "
            "so a score is the chance of a fake when fakes and real photos are equally likely")


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
        ("Thresholds", thresholds_text(detector)),
        ("Probabilities", probabilities_text(meta.logit_scaling)),
        ("Kinds of artifact", ", ".join(meta.expert_names) or "not reported by this model"),
        ("Artifact heatmap", "yes" if detector.has_artifact_map else "no (this model has no artifact map output)"),
    ]
    parts = [f"<h3>{html.escape(meta.name)} {html.escape(meta.version)}</h3>", f"<table>{_rows(facts)}</table>"]
    for title, values in (("Training", meta.training), ("Measured", meta.metrics)):
        if values:
            parts.append(f"<p><b>{title}</b></p><table>{_rows(sorted(values.items()))}</table>")
    return "".join(parts)


class ModelCardDialog(QDialog):
    def __init__(self, detector, message: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model card")
        self.resize(560, 460)
        self.text = QTextBrowser()
        self.text.setAccessibleName("Model card")
        self.text.document().setDefaultStyleSheet(rich_text_css(QApplication.palette()))
        self.text.setHtml(model_card_html(detector, message))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
