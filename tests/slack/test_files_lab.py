"""A job script attached to an @-mention, end to end: the real Bolt app downloads it from the
Slack stand-in with the bot token, renders its `--var`s, and the job runs on the real lab and
is followed in the mention's thread to COMPLETED."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from labkit import ALICE, STRANGER
from slackkit import HttpBot, text_of

pytestmark = pytest.mark.lab


async def test_an_attached_script_is_submitted_and_followed_to_completed(
    http_bot: HttpBot,
) -> None:
    tag = f"att{secrets.token_hex(3)}"
    script = f"#!/bin/bash\n#SBATCH -p gpu\n#SBATCH -t 2\necho {tag} epochs={{{{ epochs }}}}\n"
    file = http_bot.standin.add_file("train.sh", script.encode())
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@UBOT> submit -p cpu -J {tag} --var epochs=3",
        "channel": "C1",
        "ts": "1700000100.000100",
        "files": [file],
    }
    await http_bot.event(event, f"Ev-{tag}")
    [card] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    assert card.params["thread_ts"] == event["ts"] and f"`{tag}`" in text_of(card)
    [download] = http_bot.standin.calls_to("files.download")
    assert download.token == http_bot.standin.bot_token
    found = re.search(r"job (\d+)", text_of(card))
    assert found, text_of(card)
    thread = await http_bot.tick_until_done(found.group(1))
    assert thread.user_id == ALICE and thread.channel == "C1"
    texts = [text_of(c) for c in http_bot.standin.calls_to("chat.postMessage")]
    # -p cpu overrode the script's #SBATCH -p gpu; the output shows the rendered variable.
    assert "COMPLETED" in texts[-1] and f"{tag} epochs=3" in texts[-1], texts[-1]
    assert not http_bot.standin.violations


def _mention(user: str, text: str, file: dict[str, object], ts: str) -> dict[str, object]:
    return {
        "type": "app_mention",
        "user": user,
        "text": f"<@UBOT> {text}",
        "channel": "C1",
        "ts": ts,
        "files": [file],
    }


async def test_shell_text_in_a_var_of_an_attached_script_runs_nothing(http_bot: HttpBot) -> None:
    tag = f"att{secrets.token_hex(3)}"
    mark = Path(f"/tmp/pwned-{tag}")
    script = "#!/bin/bash\n#SBATCH -p cpu\n#SBATCH -t 2\necho 'note={{ note }}'\n"
    file = http_bot.standin.add_file("quoted.sh", script.encode())
    value = f"$(touch {mark}); `touch {mark}`"
    event = _mention(ALICE, f'submit -J {tag} --var "note={value}"', file, "1700000200.000100")
    await http_bot.event(event, f"Ev-{tag}")
    [card] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    found = re.search(r"job (\d+)", text_of(card))
    assert found, text_of(card)
    await http_bot.tick_until_done(found.group(1))
    final = text_of(http_bot.standin.calls_to("chat.postMessage")[-1])
    assert f"note=$(touch {mark})" in final, final  # printed as text by the job
    assert not mark.exists()


async def test_a_refused_users_attachment_is_never_downloaded(http_bot: HttpBot) -> None:
    file = http_bot.standin.add_file("train.sh", b"#!/bin/bash\ntrue\n")
    event = _mention(STRANGER, "submit", file, "1700000300.000100")
    await http_bot.event(event, f"Ev-{secrets.token_hex(3)}")
    [answer] = await http_bot.standin.wait_for("chat.postEphemeral", timeout=30)
    assert "not set up to use srunx-bot" in text_of(answer)
    assert not http_bot.standin.calls_to("files.download")
