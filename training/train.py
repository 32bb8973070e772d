"""Training loops for every method: ``train(detector_config, train_config, run_dir)``.

Stages: ``mixed`` and MoLE train in one stage (``train``); SEF trains each expert
alone on reals plus its own domain (``expert:<name>``), then freezes them and
trains the gate and head on every training domain (``fusion``). GAMMA's two
segmentation losses join whichever stage has its heads. AdamW with warm-up and
a cosine schedule per stage, gradient accumulation, a resumable state after
every epoch, DistributedDataParallel under torchrun (the global batch is split
across processes, so results match one process).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from training import distributed
from training.checkpoint import import_expert, save_checkpoint, warm_start
from training.config import ConfigError, DetectorConfig
from training.detector import Detector, create_detector
from training.distill import distillation_loss, expert_mix_loss, load_teacher
from training.runs import RunFolder, TrainConfig, autocast_dtype, set_aside
from training.train_data import IGNORE_INDEX, RecordFilter, TrainingSet, balanced_epoch


@dataclass(frozen=True)
class Stage:
    name: str
    domains: tuple[str, ...] | None
    epochs: int


def plan_stages(detector_config: DetectorConfig, config: TrainConfig) -> list[Stage]:
    if detector_config.method != "sef":
        return [Stage("train", config.train_domains, config.epochs)]
    stages = []
    for expert in detector_config.sef.experts:  # an expert is named by the domain it learns
        if config.train_domains is not None and expert not in config.train_domains:
            raise ConfigError(f"SEF expert {expert!r} needs its domain, which is not in train_domains")
        if expert in config.expert_init:
            continue  # imported from a trained checkpoint before the first stage
        stages.append(Stage(f"expert:{expert}", (expert,), config.expert_epochs))
    return stages + [Stage("fusion", config.train_domains, config.epochs)]


class LossModel(nn.Module):
    """uint8 NHWC crops + targets -> the training loss; DDP wraps this, so it sees every term."""

    def __init__(self, detector: Detector, gamma_weight: float, teacher: Detector | None = None,
                 distill_weight: float = 0.0, distill_temperature: float = 1.0):
        super().__init__()
        self.detector = detector
        self.gamma_weight = gamma_weight
        self.balance_weight = detector.config.mole.balance_weight
        self.teacher = teacher  # frozen, in eval mode: its logits and expert mix are read
        self.distill_weight, self.distill_temperature = distill_weight, distill_temperature

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        pixels = batch["image"].permute(0, 3, 1, 2).float().div(255.0)
        inputs = self.detector.normalize(pixels)
        out = self.detector(inputs)
        loss = F.binary_cross_entropy_with_logits(out.logit, batch["label"])
        parts = {"cls": loss.detach()}
        if self.teacher is not None:
            with torch.no_grad():
                taught = self.teacher(inputs)
            distill = distillation_loss(out.logit, taught.logit, self.distill_temperature)
            parts["distill"] = distill.detach()
            loss = (1 - self.distill_weight) * loss + self.distill_weight * distill
            if self.detector.mix_head is not None:  # load_teacher saw that the teacher has these experts
                mix = expert_mix_loss(out.expert_weights, taught.expert_weights)
                parts["mix"] = mix.detach()
                loss = loss + self.distill_weight * mix
        if "mole_balance" in out.aux_losses and self.balance_weight:
            parts["balance"] = out.aux_losses["mole_balance"].detach()
            loss = loss + self.balance_weight * out.aux_losses["mole_balance"]
        if out.artifact_map is not None and "mask" in batch:
            grid = out.artifact_map.shape[-2:]
            manipulated = F.adaptive_avg_pool2d(batch["mask"][:, None], grid)
            seg = F.binary_cross_entropy_with_logits(out.artifact_map, manipulated)
            codes = F.interpolate(batch["domain_map"][:, None].float(), size=grid, mode="nearest")[:, 0].long()
            domain = F.cross_entropy(out.domain_map, codes, ignore_index=IGNORE_INDEX)
            domain = torch.nan_to_num(domain)  # a batch whose every cell is ignored
            parts.update(seg=seg.detach(), domain=domain.detach())
            loss = loss + self.gamma_weight * (seg + domain)
        return loss, {k: float(v) for k, v in parts.items()}


class RankBatches:
    """Batch sampler: this process's share of each global batch, with the draw key of every item."""

    def __init__(self, order: np.ndarray, batch_size: int, steps: int, rank: int, world: int, key: tuple):
        self.order, self.batch_size, self.steps = order, batch_size, steps
        self.rank, self.world, self.key = rank, world, key

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for step in range(self.steps):
            positions = range(step * self.batch_size, (step + 1) * self.batch_size)
            mine = list(positions)[self.rank :: self.world]
            yield [(int(self.order[p]), (*self.key, p)) for p in mine]


def cosine_with_warmup(total_steps: int, warmup_fraction: float):
    warmup = max(1, round(total_steps * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def trainable_state(detector: Detector) -> dict[str, torch.Tensor]:
    pretrained = detector.pretrained_state_keys()
    return {k: v.detach().clone() for k, v in detector.state_dict().items() if k not in pretrained}


def load_trainable_state(detector: Detector, saved: dict[str, torch.Tensor]) -> None:
    """Load what ``trainable_state`` saved: every key but the pretrained backbone's, and no other."""
    missing, unexpected = detector.load_state_dict(saved, strict=False)
    missing = sorted(set(missing) - detector.pretrained_state_keys())
    if missing or unexpected:
        raise ConfigError(f"the saved state does not fit this detector: missing {missing}, unexpected {sorted(unexpected)}")


def train(detector_config: DetectorConfig, config: TrainConfig, run_dir: str | Path, resume: bool = True,
          progress: bool = True) -> Path:
    """Train every stage, writing the run folder; returns the final checkpoint's directory."""
    if detector_config.expert_mix and not config.distill_from:  # before the run folder is touched
        raise ConfigError("expert_mix is learned from an SEF teacher's gate: set [training] distill_from")
    context = distributed.setup(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.batch_size % context.world_size:
        raise ConfigError(f"batch_size {config.batch_size} does not split over {context.world_size} processes")
    set_aside_to = set_aside(run_dir) if not resume and context.is_main else None
    run = RunFolder(run_dir, write=context.is_main)
    log = run.logger()
    if set_aside_to:
        log.info("starting over: the run that was here is now %s", set_aside_to)
    if resume and run.was_started():  # a finished run too: its checkpoint is not another config's to replace
        changes = run.config_changes(detector_config, config)
        if changes:
            raise ConfigError(f"{run.path} was started with another config, so it cannot be resumed or replaced "
                              "(use a new run folder, or --no-resume to start over: the old run is kept beside it): "
                              + "; ".join(changes))
    run.save_config(detector_config, config)
    torch.manual_seed(config.seed)  # adapters and heads start the same in every process and every run
    detector = create_detector(detector_config).to(context.device)
    if config.channels_last:
        detector = detector.to(memory_format=torch.channels_last)
    if config.autocast and autocast_dtype(config.autocast, context.device.type) is None:
        log.info("autocast %s skipped: this CPU has no native bf16, so fp32 is several times faster", config.autocast)
    state = run.load_resume() if resume else None
    if state is not None:
        load_trainable_state(detector, state["model"])
        log.info("resumed at stage %d epoch %d", state["stage"], state["epoch"])
    stages = plan_stages(detector_config, config)
    unknown = sorted(set(config.expert_init) - set(detector_config.sef.experts if detector_config.method == "sef" else ()))
    if unknown:
        raise ConfigError(f"expert_init names {unknown}, which are not SEF experts of this detector")
    if state is None:  # a resumed state already holds the imported experts
        for expert, source in sorted(config.expert_init.items()):
            import_expert(detector, expert, source)
            log.info("expert %s imported from %s", expert, source)
        if config.init_from:
            added = warm_start(detector, config.init_from)
            log.info("weights start from %s (a warm restart%s)", config.init_from,
                     f"; new heads: {', '.join(added)}" if added else "")
    teacher = load_teacher(config.distill_from, detector, context.device) if config.distill_from else None
    if teacher is not None:
        log.info("distilling from %s (weight %g, temperature %g)", config.distill_from,
                 config.distill_weight, config.distill_temperature)
    with_masks = detector_config.gamma.enabled
    for stage_index, stage in enumerate(stages):
        if state is not None and stage_index < state["stage"]:
            continue
        detector.set_stage(stage.name)
        if stage.name == "fusion" and detector_config.adapter == "lora" and detector_config.lora.dropout == 0:
            detector.encoder.fold_frozen_experts()  # nothing before the gate trains: bare backbone passes
        dataset = TrainingSet(
            config.manifest, RecordFilter("train", stage.domains, config.exclude_generators, config.variants),
            detector.crop_size, config.augment, config.seed, with_masks, detector_config.gamma.domains,
            config.min_manipulated, config.cache_decoded)
        reals, fakes = int((dataset.labels == 0).sum()), int((dataset.labels == 1).sum())
        if not reals or not fakes:  # say which: a typo'd split or domain, a manifest of one class
            raise ConfigError(f"stage {stage.name} needs real and fake images: {config.manifest}'s train split has "
                              f"{reals} reals and {fakes} fakes of domains {', '.join(stage.domains or ()) or 'any'}")
        steps = len(balanced_epoch(dataset.labels, config.seed, stage_index, 0)) // config.batch_size
        steps = max(1, min(steps, config.steps_per_epoch or steps))
        optimizer_steps = math.ceil(steps / config.accumulate) * stage.epochs
        params = [p for p in detector.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(optimizer_steps, config.warmup_fraction))
        start_epoch = 0
        if state is not None and stage_index == state["stage"]:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            start_epoch = state["epoch"] + 1
        state = None
        model: nn.Module = LossModel(detector, config.gamma_weight, teacher, config.distill_weight,
                                     config.distill_temperature)
        if context.distributed:
            model = DistributedDataParallel(model, device_ids=[context.device.index] if context.device.type == "cuda" else None)
        total, trainable = detector.parameter_counts()
        log.info("stage %s: %d images, %d steps/epoch, %d/%d parameters trainable",
                 stage.name, len(dataset), steps, trainable, total)
        for epoch in range(start_epoch, stage.epochs):
            order = balanced_epoch(dataset.labels, config.seed, stage_index, epoch)
            sampler = RankBatches(order, config.batch_size, steps, context.rank, context.world_size, (stage_index, epoch))
            loader = DataLoader(dataset, batch_sampler=sampler, num_workers=config.workers)
            row = _run_epoch(model, detector, loader, optimizer, scheduler, config, context,
                             f"{stage.name} {epoch + 1}/{stage.epochs}", progress)
            row.update(stage=stage.name, epoch=epoch, lr=scheduler.get_last_lr()[0])
            log.info("%s", row)
            run.append_metrics(row)
            run.save_resume({"stage": stage_index, "epoch": epoch, "model": trainable_state(detector),
                             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})
            distributed.barrier(context)
    detector.set_stage(stages[-1].name)
    if context.is_main:
        save_checkpoint(detector.cpu().eval(), run.checkpoint_dir)
    distributed.barrier(context)
    distributed.teardown(context)
    return run.checkpoint_dir


def _run_epoch(model, detector, loader, optimizer, scheduler, config, context, label, progress) -> dict:
    detector.train()  # the frozen backbone's own layers stay in eval mode (``freeze_statistics``)
    bar = tqdm(loader, desc=label, disable=not (progress and context.is_main), leave=False)
    dtype = autocast_dtype(config.autocast, context.device.type)
    autocast = (torch.autocast(context.device.type, dtype=dtype) if dtype is not None
                else contextlib.nullcontext())
    # fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none.
    scaler = torch.amp.GradScaler(context.device.type, enabled=dtype is torch.float16)
    started, seen, loss_sum, parts_sum = time.perf_counter(), 0, 0.0, {}
    optimizer.zero_grad(set_to_none=True)
    for step, batch in enumerate(bar):
        batch = {k: v.to(context.device) for k, v in batch.items()}
        boundary = (step + 1) % config.accumulate == 0 or step + 1 == len(loader)
        sync = contextlib.nullcontext() if boundary or not context.distributed else model.no_sync()
        with sync:
            with autocast:
                loss, parts = model(batch)
            scaler.scale(loss / config.accumulate).backward()
        if boundary:
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        seen += len(batch["label"]) * context.world_size
        loss_sum += float(loss.detach())
        for key, value in parts.items():
            parts_sum[key] = parts_sum.get(key, 0.0) + value
        rate = seen / max(time.perf_counter() - started, 1e-9)
        bar.set_postfix(loss=f"{loss_sum / (step + 1):.4f}", img_s=f"{rate:.1f}")
    steps = max(1, len(loader))
    detector.eval()
    return {"loss": loss_sum / steps, **{k: v / steps for k, v in parts_sum.items()},
            "images_per_s": seen / max(time.perf_counter() - started, 1e-9),
            "seconds": time.perf_counter() - started}
