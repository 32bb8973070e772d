# Shared by the resumable experiment chains (sourced, not run).
# claim_chain RUNS: refuse to start beside a live chain in RUNS, else record this one's pid there.
claim_chain() {
    if [ -f "$1/chain.pid" ] && kill -0 "$(cat "$1/chain.pid")" 2>/dev/null; then
        echo "a chain already runs in $1 (pid $(cat "$1/chain.pid"))" >&2; exit 1
    fi
    echo $$ > "$1/chain.pid"
}
stage() { echo "== $(date -u +%H:%M:%S) $*"; }
