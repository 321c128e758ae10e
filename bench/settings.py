"""How much work one repetition of each benchmark does."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    repetitions: int = 3
    sequential: int = 1000  # calls (or rows, or messages) timed one at a time
    concurrent: int = 4000  # calls shared by the concurrent clients
    clients: int = 32
    warmup: int = 100
    start_timeout_s: float = 60.0  # for a child process to come up
    event_timeout_s: float = 10.0  # for one event to reach the consumer
    # AVL (unit positions): see bench/avl.py.
    avl_units: int = 5000  # fleet size; ListUnits asks for all of them in one page
    avl_rate: float = 11_000  # reports/s offered (2% bad on purpose): 10% above the goal
    avl_duration_s: float = 20.0
    avl_list_calls: int = 50
    avl_raw_msgs: int = 300_000  # core NATS messages for the bare figure
    avl_kv_seq: int = 2000  # KV puts awaited one at a time
    avl_kv_puts: int = 20_000  # KV puts pipelined / gathered / not acknowledged
    # Dispatch: see bench/dispatch.py.
    recommend_fleets: tuple[int, ...] = (1_000, 10_000, 50_000)
    recommend_calls: int = 1000
    dispatch_rates: tuple[int, ...] = (1, 10, 50)
    dispatch_seconds: float = 10.0  # at each rate
    # Sustained load (run once, not per repetition): see bench/sustained.py.
    sustained_rate: float = 50.0  # incidents/s offered by the flood scenario
    sustained_s: float = 300.0

    @classmethod
    def quick(cls) -> "Settings":
        return cls(
            repetitions=1,
            sequential=200,
            concurrent=800,
            warmup=20,
            avl_duration_s=5.0,
            avl_list_calls=20,
            avl_raw_msgs=100_000,
            avl_kv_seq=500,
            avl_kv_puts=5000,
            recommend_calls=300,
            dispatch_seconds=4.0,
            sustained_rate=20.0,
            sustained_s=30.0,
        )
