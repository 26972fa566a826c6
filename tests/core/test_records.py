"""What the bot follows, as stored: job threads keyed by cluster and job, watches in words."""

from __future__ import annotations

from bot.core.records import JobThread, Watch


def test_a_thread_is_keyed_by_cluster_and_job_and_starts_unposted() -> None:
    t = JobThread(cluster="lab", job_id="12", account="alice", user_id="U1", channel="C1")
    assert t.key == "lab:12"
    assert (t.card_ts, t.thread_ts, t.state, t.seq, t.in_flight, t.done) == (
        "",
        "",
        None,
        0,
        None,
        False,
    )


def test_fields_a_newer_bot_stored_are_ignored() -> None:
    doc = {"cluster": "lab", "job_id": "1", "account": "a", "user_id": "U1", "channel": "C1"}
    assert JobThread.model_validate({**doc, "key": "lab:1", "later": 1}).key == "lab:1"
    assert Watch.model_validate({**doc, "kind": "job", "later": 1}).target == "job 1"


def test_each_watch_gets_its_own_id() -> None:
    a, b = (
        Watch(kind="mine", user_id="U1", account="a", cluster="lab", channel="C1") for _ in "ab"
    )
    assert a.id.startswith("w") and a.id != b.id


def test_a_watch_says_what_it_watches() -> None:
    base = {"user_id": "U1", "account": "a", "cluster": "lab", "channel": "C1"}
    assert Watch(kind="job", job_id="12", **base).target == "job 12"
    assert Watch(kind="mine", **base).target == "all jobs"
    assert Watch(kind="gpus", gpus=2, partition="gpu", **base).target == "2 GPUs on gpu"
    gpus = Watch(kind="gpus", gpus=4, continuous=True, **base)
    assert gpus.target == "4 GPUs on any partition (continuous)"
