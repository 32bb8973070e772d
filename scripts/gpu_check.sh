#!/usr/bin/env bash
# CUDA checks on a lent GPU machine (issue 12): training-step throughput of every ablation and full
# config, fp32 beside autocast (bench/train_step.py), then the training command end to end (lite0
# mixed, lite0 SEF+GAMMA, and the data path with and without loader workers) on the subset
# scripts/gpu_pack.py carries; about 5 minutes on an H200 (ninth session's figures: docs/results.md).
# Device call: carry [".gpu", ".whl"], command `bash scripts/gpu_check.sh`, with the repository's large
# tracked files untracked for the call (they do not fit in 64 MiB beside the subset; gpu_pack.py).
# Results in $OUT (the device tool's folder; /tmp/gpu-out elsewhere). QUICK=1 PY=.venv/bin/python
# shrinks it for a dry run on the CPU.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
py=${PY:-python3}
if [ -d .whl ] && [ -z "${QUICK:-}" ]; then
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site:$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 | tee "$OUT/env.txt"
$py -c "import torch, onnxruntime as ort, platform; print(platform.python_version(), 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'ort', ort.__version__, ort.get_available_providers())" 2>&1 | tee -a "$OUT/env.txt"
nproc | tee -a "$OUT/env.txt"
steps=${QUICK:+2}; steps=${steps:-20}; rounds=${QUICK:+1}; rounds=${rounds:-3}
echo "== bench at each config's batch" | tee "$OUT/train_step.md"
timeout 240 $py bench/train_step.py configs/ablation-100k/*.toml configs/full/*.toml --random-weights \
    --steps $steps --rounds $rounds --threads 8 2>&1 | tee -a "$OUT/train_step.md"
echo "== bench at batch 512" | tee -a "$OUT/train_step.md"
timeout 120 $py bench/train_step.py configs/ablation-100k/lite0-mixed.toml configs/full/vits14-sef-gamma.toml \
    --random-weights --batch 512 --steps $((steps / 2 + 1)) --rounds 2 --threads 8 2>&1 | tee -a "$OUT/train_step.md"
echo "== full configs, fp16 beside fp32 (bf16 is their own now)" | tee -a "$OUT/train_step.md"
timeout 150 $py bench/train_step.py configs/full/*.toml --random-weights --autocast fp16 \
    --steps $steps --rounds 2 --threads 8 2>&1 | tee -a "$OUT/train_step.md"
manifest=.gpu/forged/manifest.jsonl
runs=/tmp/gpu-runs; rm -rf $runs
echo "== training command, lite0-mixed" | tee "$OUT/train.txt"
( time timeout 150 $py -m training train --config configs/ablation-100k/lite0-mixed.toml --manifest $manifest \
    --run $runs/lite0-mixed --epochs ${QUICK:-4} --steps-per-epoch 16 --no-progress ) 2>&1 | tail -12 | tee -a "$OUT/train.txt"
grep -h "stage\|images_per_s" $runs/lite0-mixed/train.log | tee -a "$OUT/train.txt"
echo "== training command, lite0-sef-gamma" | tee -a "$OUT/train.txt"
( time timeout 150 $py -m training train --config configs/ablation-100k/lite0-sef-gamma.toml --manifest $manifest \
    --run $runs/lite0-sef-gamma --epochs ${QUICK:-2} --expert-epochs 1 --steps-per-epoch 16 --no-progress ) 2>&1 | tail -14 | tee -a "$OUT/train.txt"
grep -h "stage\|images_per_s" $runs/lite0-sef-gamma/train.log | tee -a "$OUT/train.txt"
# The data path: 8 loader workers against the one process, decode cache off (the full configs' way)
sed 's/^cache_decoded = true/cache_decoded = false/' configs/ablation-100k/lite0-mixed.toml > /tmp/mixed-no-cache.toml
for workers in 8 0; do
    echo "== training command, lite0-mixed, $workers workers, no decode cache" | tee -a "$OUT/train.txt"
    timeout 120 $py -m training train --config /tmp/mixed-no-cache.toml --manifest $manifest --run $runs/workers-$workers \
        --epochs ${QUICK:-3} --steps-per-epoch 16 --workers $workers --threads 8 --no-progress 2>&1 | tail -3 | tee -a "$OUT/train.txt"
    grep -h "images_per_s" $runs/workers-$workers/train.log | tee -a "$OUT/train.txt"
done
tar -C $runs --exclude='resume*' -czf "$OUT/gpu-runs.tgz" . && ls -la "$OUT"
