"""Wiring of the ops service: the bus, the dead letters and their audit, gRPC.

A service of its own rather than a part of the gateway: it needs rights on the bus no
other service has (reading every consumer's dead letters, publishing replays, writing
the audit), it serves operators rather than the dispatch floor, and it is one small
process that `icc run` starts beside the others. It keeps no database.
"""

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from icc_bus import BusConfig
from icc_host import Hosted, open_bus, serve_grpc
from icc_ops.api import DeadLetterApi, add_servicer
from icc_ops.deadletters import DeadLetterQueue
from icc_ops.policy import POLICY
from icc_rpc import TlsConfig
from icc_rpc.runtime import run_service

DEFAULT_ADDRESS = "127.0.0.1:50054"


@dataclass(frozen=True)
class Config:
    address: str
    bus: BusConfig
    # Its certificate, key and CA (`ICC_TLS_*`); None only in the benchmark's comparison.
    tls: TlsConfig | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Config":
        return cls(
            env.get("ICC_OPS_ADDR", DEFAULT_ADDRESS),
            BusConfig.from_env(env),
            TlsConfig.from_env("ops", env),
        )


async def start(config: Config) -> Hosted:
    async with contextlib.AsyncExitStack() as stack:
        nc = await open_bus(stack, config.bus, "icc-ops")
        queue = DeadLetterQueue(nc.jetstream())
        await queue.ensure(config.bus.replicas)
        server = await serve_grpc(
            config.address, DeadLetterApi(queue), add_servicer, POLICY, config.tls
        )
        # Started: the stack's closing now belongs to `Hosted.stop`.
        return Hosted(server, stack.pop_all())
    raise AssertionError("unreachable")


def run() -> None:
    run_service("ops", lambda: start(Config.from_env()), "ICC_OPS_ADDR", signs_tokens=True)


if __name__ == "__main__":
    run()
