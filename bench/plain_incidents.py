"""`python -m bench.plain_incidents`: the incidents service with mutual TLS and authorization
off, for the benchmark's on/off comparison only (`bench.service.incidents_plain`).

It is the service's own start-up (`icc_incidents.main`) with the configuration's TLS left
out: `start_server(tls=None)` serves plaintext and lets every call through unchecked. No
`ICC_*` setting does this; nothing outside `bench/` should.
"""

from dataclasses import replace

from icc_incidents import main
from icc_rpc.runtime import run_service


def run() -> None:
    config = replace(main.config_from_env(), tls=None)
    run_service("incidents", lambda: main.start(config), "ICC_INCIDENTS_ADDR")


if __name__ == "__main__":
    run()
