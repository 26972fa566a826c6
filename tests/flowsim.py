"""A small Slurm for the workflow tests: sbatch hands out ids and records each job's options,
squeue answers in the client's exact format (SQUEUE_FORMAT) from states the test sets,
scancel and `scontrol update` are recorded. Built on the scripted transport."""

from __future__ import annotations

from dataclasses import dataclass, field

from scripted import NO_JOB, Result, Scripted

# The controller's wait status for an exit code, as squeue's exit_code field gives it.
WAIT_STATUS = {"0:0": "0", "1:0": "256", "3:0": "768"}


@dataclass
class SimJob:
    job_id: str
    name: str
    options: tuple[str, ...]
    script: str
    state: str = "PENDING"
    reason: str = "None"
    exit_code: str = "0:0"

    @property
    def comment(self) -> str:
        return next((o.split("=", 1)[1] for o in self.options if o.startswith("--comment=")), "")

    @property
    def dependency(self) -> str:
        found = [o.split("=", 1)[1] for o in self.options if o.startswith("--dependency=")]
        return found[0] if found else ""


@dataclass
class SimSlurm:
    jobs: dict[str, SimJob] = field(default_factory=dict)
    next_id: int = 100
    refuse: dict[str, str] = field(default_factory=dict)  # job name -> sbatch's error
    scancels: list[tuple[str, ...]] = field(default_factory=list)
    updates: list[tuple[str, str]] = field(default_factory=list)  # (job id, dependency)

    def transport(self) -> Scripted:
        return Scripted(
            {
                "sbatch": self._sbatch,
                "squeue": self._squeue,
                "sacct": (0, "", ""),
                "scontrol": self._scontrol,
                "scancel": self._scancel,
                "sinfo": (0, "gpu\ncpu\n", ""),
                "head": (1, "", "head: cannot open\n"),
                "sh": (1, "", "head: cannot open\n"),
            }
        )

    def named(self, name: str) -> list[SimJob]:
        """Every job submitted under a Slurm name (retries add more), oldest first."""
        return [j for j in self.jobs.values() if j.name == name]

    def last(self, name: str) -> SimJob:
        return self.named(name)[-1]

    def set(self, name: str, state: str, exit_code: str = "0:0", reason: str = "None") -> None:
        job = self.last(name)
        job.state, job.exit_code, job.reason = state, exit_code, reason

    def _sbatch(self, argv: tuple[str, ...]) -> Result:
        options = argv[2:]  # sbatch --parsable OPTIONS...
        name = next(o.split("=", 1)[1] for o in options if o.startswith("--job-name="))
        if name in self.refuse:
            return (1, "", f"sbatch: error: {self.refuse[name]}\n")
        job_id = str(self.next_id)
        self.next_id += 1
        self.jobs[job_id] = SimJob(job_id, name, options, script="")
        return (0, f"{job_id}\n", "")

    def _line(self, j: SimJob) -> str:
        status = WAIT_STATUS.get(j.exit_code, "256")
        start = "N/A" if j.state == "PENDING" else "2026-12-01T10:00:05"
        fields = [
            j.job_id, j.job_id, "N/A", j.state, "alice", "cpu", "1", "node3",
            "cpu=1,node=1", "0:05", "5:00", "2026-12-01T10:00:00", start, j.reason, status,
            j.name,
        ]  # fmt: skip
        return "|".join(fields)

    def _squeue(self, argv: tuple[str, ...]) -> Result:
        if "%i|%j|%k" in argv:  # jobs_commented
            return (
                0,
                "".join(f"{j.job_id}|{j.name}|{j.comment}\n" for j in self.jobs.values()),
                "",
            )
        ids = argv[argv.index("-j") + 1].split(",") if "-j" in argv else list(self.jobs)
        found = [self.jobs[i] for i in ids if i in self.jobs]
        return (0, "".join(self._line(j) + "\n" for j in found), "")

    def _scontrol(self, argv: tuple[str, ...]) -> Result:
        if argv[1] == "update":
            job_id = argv[2].removeprefix("JobId=")
            dep = argv[3].removeprefix("Dependency=")
            self.updates.append((job_id, dep))
            job = self.jobs[job_id]
            job.options = tuple(o for o in job.options if not o.startswith("--dependency="))
            job.options += (f"--dependency={dep}",)
            return (0, "", "")
        return NO_JOB

    def _scancel(self, argv: tuple[str, ...]) -> Result:
        self.scancels.append(argv[1:])
        for job_id in argv[1:]:
            job = self.jobs.get(job_id)
            if job is not None and job.state in ("PENDING", "RUNNING"):
                job.state = "CANCELLED"
        return (0, "", "")
