"""The exact, delimited output formats the client asks Slurm for. Free text (job names) is
always the last field, so a `|` inside a name cannot shift the columns."""

SEP = "|"

SQUEUE_FIELDS = (
    "JobID", "ArrayJobID", "ArrayTaskID", "State", "UserName", "Partition", "NumNodes",
    "NodeList", "tres-alloc", "TimeUsed", "TimeLimit", "SubmitTime", "StartTime", "Reason",
    "Name",
)  # fmt: skip
# `:0` = no padding or truncation; the suffix is the separator.
SQUEUE_FORMAT = ",".join(f"{f}:0{SEP}" for f in SQUEUE_FIELDS[:-1]) + f",{SQUEUE_FIELDS[-1]}:0"

SACCT_STATUS_FIELDS = (
    "JobID", "State", "ExitCode", "User", "Partition", "NNodes", "NodeList", "AllocTRES",
    "Elapsed", "Timelimit", "Submit", "Start", "End", "Reason", "JobName",
)  # fmt: skip

SACCT_HISTORY_FIELDS = (
    "JobID", "State", "ExitCode", "Partition", "Elapsed", "Timelimit", "Start", "End",
    "TotalCPU", "MaxRSS", "AllocTRES", "ReqMem", "JobName",
)  # fmt: skip

SINFO_NODE_FIELDS = ("NodeList", "PartitionName", "StateComplete", "Gres", "GresUsed")
SINFO_NODE_FORMAT = ",".join(f"{f}:0{SEP}" for f in SINFO_NODE_FIELDS)
