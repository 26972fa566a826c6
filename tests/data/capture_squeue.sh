#!/usr/bin/env bash
# Re-capture tests/data/squeue_all.txt from the lab (as root, lab running, no other jobs):
# finished jobs (GPU, multi-node, --gpus=N, a failure, a cancelled one, a finished array),
# then a running --gpus=3 job, and an array with a running task and a pending remainder.
# Prints the job ids as NAME=ID lines (tests/data/squeue_ids.env).
set -euo pipefail
cd "$(dirname "$0")"
. ../lab/env.sh
S() { ssh -F "$LAB_SSH_CONFIG" -p "$LAB_SSH_PORT" "alice@$LAB_HOST" "$@"; }
sub() { local name=$1; shift; printf '#!/bin/bash\n%s\n' "$1" | S sbatch --parsable -J "$name" "${@:2}"; }
format=$(cd ../.. && uv run python -c 'from bot.core.slurm.formats import SQUEUE_FORMAT as F; print(F)')
{
  echo "my=$(sub my 'sleep 2' -p gpu --gpus-per-node=2)"
  echo "multi=$(sub multi 'sleep 2' -p gpu -N 2 --gpus-per-node=1)"
  echo "gpustotal=$(sub gpustotal 'sleep 2' -p gpu --gpus=1)"
  echo "failer=$(sub failer 'exit 3' -p cpu)"
  echo "ok=$(sub ok 'echo hi' -p cpu --array=1-3)"
  pend=$(sub pend 'sleep 60' -p gpu --gpus-per-node=4 --begin=now+1hour); echo "pend=$pend"
  S scancel "$pend"
  sleep 6
  echo "gpus3=$(sub gpus3 'sleep 60' -p gpu --gpus=3)"
  echo "arr=$(sub arr 'sleep 60' -p gpu -N 2 --gpus-per-node=1 --array=1-4%2)"
} > squeue_ids.env  # removed again after the capture: job ids are in squeue_all.txt
sleep 4
ids=$(cut -d= -f2 squeue_ids.env | paste -sd,)
S squeue -h --states=all -j "$ids" -O "'$format'" > squeue_all.txt
cat squeue_ids.env squeue_all.txt
rm squeue_ids.env
