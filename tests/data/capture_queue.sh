#!/usr/bin/env bash
# Re-capture tests/data/squeue_queue.txt (the cluster-report queue format) from the lab, as
# root with the lab running: a running GPU job, a pending array remainder and a job held for
# later, then the whole queue in QUEUE_FORMAT. The jobs are cancelled afterwards.
set -euo pipefail
cd "$(dirname "$0")"
. ../lab/env.sh
S() { ssh -F "$LAB_SSH_CONFIG" -p "$LAB_SSH_PORT" "alice@$LAB_HOST" "$@"; }
sub() { local name=$1; shift; printf '#!/bin/bash\n%s\n' "$1" | S sbatch --parsable -J "$name" "${@:2}"; }
format=$(cd ../.. && uv run python -c 'from bot.core.slurm.formats import QUEUE_FORMAT as F; print(F)')
ids="$(sub train 'sleep 60' -p gpu --gpus-per-node=3)"
ids+=",$(sub sweep 'sleep 60' -p gpu -N 2 --gpus-per-node=2 --array=1-5%1)"
ids+=",$(sub later 'sleep 60' -p cpu --begin=now+1hour)"
sleep 6
S squeue -h -t PENDING,RUNNING,COMPLETING,CONFIGURING -O "'$format'" > squeue_queue.txt
cat squeue_queue.txt
S scancel "${ids//,/ }"
