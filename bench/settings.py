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

    @classmethod
    def quick(cls) -> "Settings":
        return cls(repetitions=1, sequential=200, concurrent=800, warmup=20)
