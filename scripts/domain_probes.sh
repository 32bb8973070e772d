#!/usr/bin/env bash
# Short learnability probes: which fake domains (alone or mixed) frozen Lite0 + LoRA learns at all.
# Each probe trains 4 epochs x 40 steps x 32 crops (5,120 crops, about 1.5 minutes on 2 cores)
# and prints its per-epoch training loss; chance is 0.693. Not a score: a go/no-go before a long run.
#   scripts/domain_probes.sh MANIFEST OUT "upsample" "reconstruct:noaug" "upsample,reconstruct" ...
# A probe is comma-separated domains, then any of ":noaug" (augmentation off) and ":gamma" (GAMMA's
# heads and pixel losses; the printed loss is then the classification part alone, comparable).
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=$1; out=$2; shift 2
mkdir -p "$out"
for probe in "$@"; do
    domains=${probe%%:*}
    augment=true; [[ $probe == *:noaug* ]] && augment=false
    gamma=false; [[ $probe == *:gamma* ]] && gamma=true
    name=$(echo "$probe" | tr ',:' '+-')
    quoted=$(echo "$domains" | sed 's/[^,]*/"&"/g; s/,/, /g')
    cat > "$out/$name.toml" <<TOML
[detector]
name = "probe"
backbone = "efficientnet_lite0"
crop_size = 96
method = "mixed"
adapter = "lora"

[detector.gamma]
enabled = $gamma

[training]
train_domains = [$quoted]
variants = [""]
batch_size = 32
steps_per_epoch = 40
epochs = 4
lr = 0.002
threads = 2
cache_decoded = true
autocast = "bf16"

[training.augment]
enabled = $augment
TOML
    .venv/bin/python -m training train --config "$out/$name.toml" --run "$out/$name" --manifest "$manifest" \
        --no-resume --no-progress > "$out/$name.log" 2>&1
    .venv/bin/python -c "import json, sys; print(sys.argv[2], ' '.join(f\"{json.loads(line)['cls']:.3f}\" for line in open(sys.argv[1])))" \
        "$out/$name/metrics.jsonl" "$probe"
done
