"""Benchmark: a burst of 200 job state changes for one channel, posted through the bot's
SlackNotifier to the local Slack stand-in, which answers 429 (Retry-After: 1) a few times on
the way. Prints: delivered, unhandled 429s, order kept, and the pace per channel (goal: all
delivered, 0 unhandled 429, <= 1 message per second per channel). Takes about N seconds.
Usage: uv run python bench/burst.py [--changes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bot.core.ports import ThreadPost
from bot.core.records import JobThread
from bot.slack.app import web_client
from bot.slack.notifier import SlackNotifier
from slack_standin import SlackStandIn
from slackkit import settings_for


async def main(n: int) -> int:
    async with SlackStandIn() as standin:
        client = web_client(settings_for(standin, http=True))
        notifier = SlackNotifier(client)
        thread = JobThread(
            cluster="lab",
            job_id="4121",
            account="alice",
            user_id="U0ALICE",
            channel="C1",
            card_ts="1.1",
            thread_ts="1.1",
        )

        async def rate_limit_now_and_then() -> None:  # 429s in the middle of the burst
            for _ in range(3):
                await asyncio.sleep(n / 4)
                standin.fail_next("chat.postMessage", status=429, retry_after=1)

        limiter = asyncio.create_task(rate_limit_now_and_then())
        unhandled = 0
        t0 = time.monotonic()

        async def change(i: int) -> None:
            nonlocal unhandled
            try:
                await notifier.post_reply(thread, ThreadPost(f"change {i}"))
            except Exception:
                unhandled += 1

        # All changes arrive at once, in order; the notifier must pace and keep the order.
        tasks = [asyncio.create_task(change(i)) for i in range(n)]
        await asyncio.gather(*tasks)
        limiter.cancel()
        took = time.monotonic() - t0
        ok = [c for c in standin.calls_to("chat.postMessage") if "_fault" not in c.params]
        faults = len(standin.calls_to("chat.postMessage")) - len(ok)
        order = [int(str(c.params["text"]).split()[-1]) for c in ok]
        gaps = [b.at - a.at for a, b in itertools.pairwise(ok)]
        window = max(
            sum(1 for c in ok if start.at <= c.at < start.at + 10) for start in ok
        )  # most posts in any 10 s
        print(f"{n} state changes into one channel, {faults} answered 429 (Retry-After: 1):")
        print(
            f"  delivered {len(ok)}/{n}, unhandled 429s {unhandled}, "
            f"order kept: {order == list(range(n))}"
        )
        print(
            f"  took {took:.0f} s; smallest gap between posts {min(gaps):.2f} s; "
            f"most posts in any 10 s: {window} (goal <= 1 msg/s/channel)"
        )
        await client.session.close() if client.session else None
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=200)
    sys.exit(asyncio.run(main(min(max(ap.parse_args().changes, 10), 1000))))
