"""A fleet of AVL devices, or a bare core-NATS publisher, as its own process.

`--mode avl`: publishes `icc.resource.v1.UnitPositionReported` on core NATS
(`icc.unit.position.<unit>`) at `--rate` reports per second for `--duration-s`
seconds, spread evenly over time in small batches (one every `--tick-ms`), round
robin over the unit ids in `--ids`; each report carries a fresh `report_time`
(`time.time_ns()` when it is built), which is what the driver times the lag from.
A few reports are bad on purpose, so the service's checks run too: every
`--bad-every`-th report names an unknown unit (rejected), and the one after it is
older than the unit's last report (dropped). Neither should reach the bucket.

`--mode raw`: publishes `--count` messages of `--size` bytes on `--subject` as fast
as it can (the bare core-NATS figure).

Writes a JSON summary to `--out` when done.

    python -m bench.avl_publisher --nats-url URL --out FILE --mode avl --ids FILE \
        --rate 11000 --duration-s 20
    python -m bench.avl_publisher --nats-url URL --out FILE --mode raw --subject S --count N
"""

import argparse
import asyncio
import json
import time
from pathlib import Path

import nats
import uvloop

from icc.resource.v1 import events_pb2, resource_pb2

POSITION_SUBJECT = "icc.unit.position."
HOUR_NS = 3_600_000_000_000
# Around Ho Chi Minh City.
LAT0, LON0 = 10.70, 106.60


def report_bytes(unit: str, seq: int, time_ns: int) -> bytes:
    position = resource_pb2.Position(
        lat=LAT0 + (seq % 997) * 0.0003,
        lon=LON0 + (seq % 991) * 0.0003,
        heading=float(seq % 360),
        speed=8.5,
        accuracy=5.0,
    )
    position.report_time.seconds = time_ns // 1_000_000_000
    position.report_time.nanos = time_ns % 1_000_000_000
    return events_pb2.UnitPositionReported(unit=unit, position=position).SerializeToString()


async def run_avl(args: argparse.Namespace, ids: list[str]) -> dict[str, float]:
    nc = await nats.connect(args.nats_url, name="bench-avl-publisher", pending_size=8 * 1024**2)
    good = rejected = dropped = 0
    sent = 0
    good_i = 0  # index of the next unit in the round robin
    total = int(args.rate * args.duration_s)
    tick_s = args.tick_ms / 1000
    loop_start = time.perf_counter()
    first_wall = time.time_ns()
    late_ticks = 0
    try:
        while sent < total:
            due = min(total, int((time.perf_counter() - loop_start) * args.rate) + 1)
            while sent < due:
                sent += 1
                now_ns = time.time_ns()
                if args.bad_every and sent % args.bad_every == 0:
                    data = report_bytes(f"units/U-NO-SUCH-{sent}", sent, now_ns)
                    unit = "U-NO-SUCH"
                    rejected += 1
                elif args.bad_every and sent % args.bad_every == 1 and good_i > len(ids):
                    # An hour older than what this unit reported last round: dropped.
                    unit = ids[(good_i - 1) % len(ids)]
                    data = report_bytes(f"units/{unit}", sent, now_ns - HOUR_NS)
                    dropped += 1
                else:
                    unit = ids[good_i % len(ids)]
                    good_i += 1
                    data = report_bytes(f"units/{unit}", sent, now_ns)
                    good += 1
                await nc.publish(POSITION_SUBJECT + unit, data)
            next_tick = loop_start + (int((time.perf_counter() - loop_start) / tick_s) + 1) * tick_s
            delay = next_tick - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late_ticks += 1
        await nc.flush()
        last_wall = time.time_ns()
    finally:
        await nc.close()
    elapsed_s = (last_wall - first_wall) / 1e9
    return {
        "sent": sent,
        "good": good,
        "rejected": rejected,
        "dropped": dropped,
        "first_wall_ns": first_wall,
        "last_wall_ns": last_wall,
        "elapsed_s": elapsed_s,
        "rate": sent / elapsed_s if elapsed_s > 0 else float("nan"),
        "late_ticks": late_ticks,
        "units": len(ids),
    }


async def run_raw(args: argparse.Namespace, _ids: list[str]) -> dict[str, float]:
    nc = await nats.connect(args.nats_url, name="bench-raw-publisher", pending_size=8 * 1024**2)
    payload = b"x" * args.size
    try:
        start = time.perf_counter_ns()
        for _ in range(args.count):
            await nc.publish(args.subject, payload)
        await nc.flush()
        elapsed = time.perf_counter_ns() - start
    finally:
        await nc.close()
    return {"sent": args.count, "elapsed_s": elapsed / 1e9, "rate": args.count * 1e9 / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--mode", choices=["avl", "raw"], required=True)
    parser.add_argument("--ids", type=Path)
    parser.add_argument("--rate", type=float, default=11_000)
    parser.add_argument("--duration-s", type=float, default=20)
    parser.add_argument("--tick-ms", type=float, default=5)
    parser.add_argument("--bad-every", type=int, default=100)
    parser.add_argument("--subject", default="bench.raw")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()
    ids = [line for line in args.ids.read_text("utf-8").splitlines() if line] if args.ids else []
    run = run_avl if args.mode == "avl" else run_raw
    summary = uvloop.run(run(args, ids))
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary), "utf-8")
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
