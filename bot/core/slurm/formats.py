"""The exact, delimited output formats the client asks Slurm for. Free text (job names) is
always the last field, so a `|` inside a name cannot shift the columns."""

SEP = "|"


def output_format(fields: tuple[str, ...]) -> str:
    """`-O` spec: `:0` = no padding or truncation; the suffix is the separator (none at the end)."""
    return ",".join(f"{f}:0{SEP}" for f in fields[:-1]) + f",{fields[-1]}:0"


SQUEUE_FIELDS = (
    "JobID",
    "ArrayJobID",
    "ArrayTaskID",
    "State",
    "UserName",
    "Partition",
    "NumNodes",
    "NodeList",
    "tres-alloc",
    "TimeUsed",
    "TimeLimit",
    "SubmitTime",
    "StartTime",
    "Reason",
    "exit_code",  # the controller's own wait status, e.g. 768 = exit 3
    "Name",
)
SQUEUE_FORMAT = output_format(SQUEUE_FIELDS)

SACCT_STATUS_FIELDS = (
    "JobID",
    "State",
    "ExitCode",
    "User",
    "Partition",
    "NNodes",
    "NodeList",
    "AllocTRES",
    "Elapsed",
    "Timelimit",
    "Submit",
    "Start",
    "End",
    "Reason",
    "JobName",
)

SACCT_HISTORY_FIELDS = (
    "JobID",
    "State",
    "ExitCode",
    "Partition",
    "Elapsed",
    "Timelimit",
    "Start",
    "End",
    "TotalCPU",
    "MaxRSS",
    "AllocTRES",
    "ReqMem",
    "JobName",
)

SINFO_NODE_FIELDS = ("NodeList", "PartitionName", "StateComplete", "Gres", "GresUsed")
SINFO_NODE_FORMAT = output_format(SINFO_NODE_FIELDS)

# The whole queue for cluster reports: counts, GPUs and how long pending jobs have waited
# (PendingTime is computed by slurmctld, so the bot's clock and time zone don't matter).
QUEUE_FIELDS = (
    "JobID",
    "ArrayJobID",
    "ArrayTaskID",
    "State",
    "UserName",
    "Partition",
    "NumNodes",
    "tres-alloc",
    "TimeUsed",
    "PendingTime",
    "Reason",
    "Name",
)
QUEUE_FORMAT = output_format(QUEUE_FIELDS)
