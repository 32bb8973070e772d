"""Knowledge distillation (Hinton et al. 2015): a trained detector, the teacher, teaches another by its
probabilities beside the labels. What it is for here: SEF runs one backbone pass per expert (four per
crop in version 12), so a one-pass student that scores as its teacher does would scan several times
faster. ``[training] distill_from`` names the teacher's checkpoint. A student with ``expert_mix`` also
learns the teacher's gate (which expert's evidence it weighs), so its scans still say the kind of artifact."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpoint import load_checkpoint
from .config import ConfigError
from .detector import Detector, merged_for_inference


def load_teacher(source: str | Path, student: Detector, device: torch.device) -> Detector:
    """The checkpoint at ``source``, frozen, its adapters folded in (bare backbone passes), on ``device``.
    It must see what the student sees: the same crop size and the same input normalisation."""
    teacher = merged_for_inference(load_checkpoint(source))
    mine, theirs = student.backbone.data_config, teacher.backbone.data_config
    if teacher.crop_size != student.crop_size:
        raise ConfigError(f"the teacher {source} scores {teacher.crop_size} px crops, the student {student.crop_size} px")
    if (tuple(mine.mean), tuple(mine.std)) != (tuple(theirs.mean), tuple(theirs.std)):
        raise ConfigError(f"the teacher {source} normalises its input otherwise than the student "
                          f"(mean {tuple(theirs.mean)}, std {tuple(theirs.std)})")
    wanted, has = student.config.expert_mix, teacher.input_spec.expert_names
    if wanted and wanted != has:
        raise ConfigError(f"the student estimates the mix of experts {', '.join(wanted)}; the teacher {source} "
                          + (f"has {', '.join(has)}" if has else "has no experts (it is not an SEF model)"))
    teacher.requires_grad_(False)
    return teacher.to(device).eval()


def distillation_loss(student_logit: torch.Tensor, teacher_logit: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """KL divergence from the teacher's (tempered) Bernoulli to the student's, times T² so that its
    gradients keep their size whatever the temperature; zero where the two agree."""
    tempered = teacher_logit.float() / temperature
    target = torch.sigmoid(tempered)
    cross_entropy = F.binary_cross_entropy_with_logits(student_logit.float() / temperature, target)
    # The teacher's own entropy does not depend on the student: taking it off makes 0 mean "agrees". Taken
    # from its logits (binary_cross_entropy on probabilities is refused under CUDA autocast).
    entropy = F.binary_cross_entropy_with_logits(tempered, target)
    return (cross_entropy - entropy) * temperature**2


def expert_mix_loss(student_weights: torch.Tensor, teacher_weights: torch.Tensor) -> torch.Tensor:
    """KL divergence from the teacher's expert mix to the student's (both ``[B, E]``, rows summing to
    one), averaged over the batch; zero where they agree."""
    teacher = teacher_weights.float()
    student_log = student_weights.float().clamp_min(1e-8).log()
    return F.kl_div(student_log, teacher, reduction="batchmean")
