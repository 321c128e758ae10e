"""The event consumer, run as its own process: pull, fetch a batch, echo each event, ack.

For every event it publishes `<key> <time.time_ns()>` on a core NATS subject, so the
driver can time call -> event-at-consumer in its own clock and count what arrived.
The key is the `Nats-Msg-Id` header (bare pipeline) or the incident name (service).

    python -m bench.consumer --nats-url URL --stream S --subject SUBJ --durable D \
        --echo-subject E --key msgid|incident
"""

import argparse
import asyncio
import contextlib
import signal
import time

import nats
import uvloop
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from icc.incident.v1 import events_pb2


def key_of(msg: Msg, kind: str) -> str:
    if kind == "incident":
        return str(events_pb2.IncidentCreated.FromString(msg.data).incident.name)
    return str((msg.headers or {}).get("Nats-Msg-Id", ""))


async def consume(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    nc = await nats.connect(args.nats_url, name="bench-consumer")
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        args.subject,
        durable=args.durable,
        stream=args.stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=10_000,
            max_deliver=5,
        ),
    )
    while not stop.is_set():
        try:
            msgs = await sub.fetch(args.batch, timeout=1.0)
        except (NatsTimeoutError, TimeoutError):
            continue
        for msg in msgs:
            received_ns = time.time_ns()
            await nc.publish(args.echo_subject, f"{key_of(msg, args.key)} {received_ns}".encode())
            await msg.ack()
    with contextlib.suppress(Exception):
        await nc.drain()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--durable", required=True)
    parser.add_argument("--echo-subject", required=True)
    parser.add_argument("--key", choices=["msgid", "incident"], required=True)
    parser.add_argument("--batch", type=int, default=100)
    uvloop.run(consume(parser.parse_args()))


if __name__ == "__main__":
    main()
