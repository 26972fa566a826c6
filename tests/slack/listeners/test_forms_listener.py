"""The submit form through the real Bolt app on the Slack stand-in, Slurm scripted: the
shortcuts open it with the cluster's partitions (the message shortcut with the message as the
command), a bad field is answered on the form with nothing submitted, and a good one submits
once and posts the job's card in the channel it came from."""

from __future__ import annotations

import json

from labkit import ALICE, eventually
from scripted import sinfo
from slackkit import ScriptedBot, form_submission, global_shortcut, opened_view


async def test_the_global_shortcut_opens_the_form_with_the_partitions(
    scripted_bot: ScriptedBot,
) -> None:
    scripted_bot.slurm["alice"].answers["sinfo"] = sinfo("idle")
    await scripted_bot.http.interact(global_shortcut(ALICE, "trig-global"))
    [opened] = await scripted_bot.http.standin.wait_for("views.open")
    view = opened_view(opened)
    select = next(b for b in view["blocks"] if b.get("block_id") == "partition")["element"]
    assert [o["value"] for o in select["options"]] == ["cpu", "gpu"]
    assert json.loads(view["private_metadata"])["channel"] is None


async def test_the_message_shortcut_starts_from_the_messages_command(
    scripted_bot: ScriptedBot,
) -> None:
    scripted_bot.slurm["alice"].answers["sinfo"] = sinfo("idle")
    payload = {
        **global_shortcut(ALICE, "trig-message"),
        "type": "message_action",
        "callback_id": "submit_from_message",
        "channel": {"id": "C1"},
        "message": {"type": "message", "ts": "1.2", "text": "```\n$ python train.py --lr 3\n```"},
    }
    await scripted_bot.http.interact(payload)
    [opened] = await scripted_bot.http.standin.wait_for("views.open")
    assert "python train.py --lr 3" in json.dumps(opened_view(opened))


async def test_a_bad_field_is_answered_on_the_form_and_nothing_runs(
    scripted_bot: ScriptedBot,
) -> None:
    bad = form_submission(ALICE, "C1", partition="cpu", time="soon", command="true")
    status, body, _ = await scripted_bot.http.interact(bad)
    assert status == 200 and json.loads(body)["errors"]["time"].startswith("invalid time `soon`")
    assert all(not s.calls for s in scripted_bot.slurm.values())


async def test_a_good_form_submits_once_and_posts_the_card_in_its_channel(
    scripted_bot: ScriptedBot,
) -> None:
    alice = scripted_bot.slurm["alice"]
    alice.answers.update(sinfo=sinfo("idle"), sbatch=(0, "4242\n", ""))
    good = form_submission(ALICE, "C1", partition="cpu", name="form1", command="python train.py")
    for _ in range(2):  # a redelivered submission (same view id) runs once
        await scripted_bot.http.interact(good)
    [card] = await scripted_bot.http.standin.wait_for("chat.postMessage")
    assert card.params["channel"] == "C1" and "4242" in str(card.params)
    assert alice.count("sbatch") == 1
    # The thread is saved as soon as Slack has taken its card: look once it is.
    thread = await eventually(
        lambda: scripted_bot.http.rt.threads.thread("lab", "4242"),
        lambda t: t is not None,
        timeout=10,
        interval=0.05,
    )
    assert thread is not None and thread.user_id == ALICE and thread.channel == "C1"
