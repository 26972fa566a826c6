#!/usr/bin/env bash
# Re-capture tests/data/transitions/ and sinfo_nodes_idle.txt (what a poll tick reads while
# jobs move) from the lab, as root with the lab running: a job held back a few seconds
# (PENDING -> RUNNING -> COMPLETED), one that fails (RUNNING -> FAILED, exit 3) and an array
# run one task at a time. At each stage squeue (SQUEUE_FORMAT) and sacct (status format) for
# the three ids; at the end sacct in the history format, scontrol and the output of the single
# jobs, as the monitor's final summary reads them. The tests read the job ids from the files.
set -euo pipefail
cd "$(dirname "$0")"
. ../lab/env.sh
S() { ssh -F "$LAB_SSH_CONFIG" -p "$LAB_SSH_PORT" "alice@$LAB_HOST" "$@"; }
sub() { local name=$1; shift; printf '#!/bin/bash\n%s\n' "$1" | S sbatch --parsable -J "$name" "${@:2}"; }
py() { (cd ../.. && uv run --frozen python -c "from bot.core.slurm.formats import *; print($1)"); }
squeue_format=$(py SQUEUE_FORMAT)
status_fields=$(py "','.join(SACCT_STATUS_FIELDS)")
history_fields=$(py "','.join(SACCT_HISTORY_FIELDS)")
sinfo_format=$(py SINFO_NODE_FORMAT)
out=transitions
mkdir -p "$out"
# No GPU job yet (the jobs below use the cpu partition): every GPU free.
S sinfo -h -N -O "'$sinfo_format'" > sinfo_nodes_idle.txt
steps=$(sub steps 'echo starting; sleep 8; echo all done' -p cpu --begin=now+5)
crash=$(sub crash 'echo trying; sleep 8; exit 3' -p cpu)
sweep=$(sub sweep 'sleep 4' -p cpu --array=1-3%1)
ids="$steps,$crash,$sweep"
snap() {
  S squeue -h --states=all -j "$ids" -O "'$squeue_format'" > "$out/squeue_$1.txt"
  S sacct -X -P -n -j "$ids" -o "$status_fields" > "$out/sacct_$1.txt"
}
sleep 1; snap 1_pending
sleep 8; snap 2_running
sleep 20; snap 3_done
for name in steps crash; do
  id=${!name}
  S sacct -P -n -j "$id" -o "$history_fields" > "$out/sacct_usage_$name.txt"
  S scontrol show job -o "$id" > "$out/scontrol_$name.txt"
  path=$(sed -n 's/.* StdOut=\([^ ]*\).*/\1/p' "$out/scontrol_$name.txt")
  S tail -c 65537 -- "$path" > "$out/tail_$name.txt"
done
head "$out"/*
