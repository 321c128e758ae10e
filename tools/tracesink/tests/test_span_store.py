"""The SQLite store on its own: which traces belong to an incident, spans in start order."""

from pathlib import Path

import pytest

from icc_tracesink.model import Link, Span
from icc_tracesink.store import SpanStore, StoreMissing

MS = 1_000_000


def span(
    trace: str,
    span_id: str,
    start_ms: int,
    *,
    incident: str | None = None,
    links: tuple[Link, ...] = (),
    parent: str | None = None,
) -> Span:
    return Span(
        trace_id=trace * 32,
        span_id=span_id * 16,
        parent_span_id=parent * 16 if parent else None,
        service="svc",
        name=f"op-{span_id}",
        kind="INTERNAL",
        start_ns=start_ms * MS,
        end_ns=(start_ms + 1) * MS,
        attributes={"icc.incident.id": incident} if incident else {},
        links=links,
    )


@pytest.fixture
def store(tmp_path: Path) -> SpanStore:
    return SpanStore.open(tmp_path / "traces.db")


def test_traces_of_an_incident_include_those_one_link_away_in_either_direction(
    store: SpanStore,
) -> None:
    to_a = Link("a" * 32, "1" * 16)
    store.insert(
        [
            span("a", "1", 10, incident="inc"),  # tagged
            span("a", "2", 11, parent="1"),
            span("b", "3", 5, links=(to_a,)),  # links to a tagged trace
            span("c", "4", 20, incident="inc", links=(Link("d" * 32, "5" * 16),)),
            span("d", "5", 1),  # linked from a tagged trace
            span("e", "6", 30, links=(Link("b" * 32, "3" * 16),)),  # two links away: not it
            span("f", "7", 2, incident="other", links=(to_a,)),
        ]
    )
    # f links to a as well: it is one link away, whatever incident it is tagged with.
    assert store.traces_of_incident("inc") == ["d" * 32, "f" * 32, "b" * 32, "a" * 32, "c" * 32]
    assert store.traces_of_incident("other") == ["f" * 32, "a" * 32]
    assert store.traces_of_incident("nothing") == []


def test_a_link_to_a_trace_never_received_is_not_a_trace_of_the_incident(
    store: SpanStore,
) -> None:
    store.insert([span("a", "1", 0, incident="inc", links=(Link("9" * 32, "9" * 16),))])
    assert store.traces_of_incident("inc") == ["a" * 32]


def test_the_incident_is_indexed_by_its_bare_id_whichever_form_was_tagged(
    store: SpanStore,
) -> None:
    store.insert([span("a", "1", 0, incident="incidents/inc")])
    assert store.traces_of_incident("inc") == ["a" * 32]


def test_spans_of_traces_come_by_start_time(store: SpanStore) -> None:
    spans = [span("a", "1", 3), span("b", "2", 1), span("a", "3", 2), span("c", "4", 0)]
    store.insert(spans)
    assert [s.span_id for s in store.spans_of(["a" * 32, "b" * 32])] == [
        "2" * 16,
        "3" * 16,
        "1" * 16,
    ]
    assert store.spans_of([]) == []


def test_a_failed_batch_stores_nothing(store: SpanStore) -> None:
    bad = span("a", "2", 0)
    object.__setattr__(bad, "attributes", {"not json": object()})
    with pytest.raises(TypeError):
        store.insert([span("a", "1", 0), bad])
    assert store.spans_of(["a" * 32]) == []


def test_reading_never_creates_the_file(tmp_path: Path) -> None:
    with pytest.raises(StoreMissing):
        SpanStore.open_readonly(tmp_path / "traces.db")
    assert not (tmp_path / "traces.db").exists()


def test_a_closed_sinks_file_can_be_read(tmp_path: Path) -> None:
    writer = SpanStore.open(tmp_path / "traces.db")
    writer.insert([span("a", "1", 0, incident="inc")])
    writer.close()  # the WAL is checkpointed and removed: the reader must still open it
    reader = SpanStore.open_readonly(tmp_path / "traces.db")
    try:
        assert reader.traces_of_incident("inc") == ["a" * 32]
    finally:
        reader.close()


def test_prune_forgets_whole_traces_that_started_before_the_cutoff(store: SpanStore) -> None:
    store.insert(
        [
            span("a", "1", 10, incident="old"),
            span("a", "2", 500, parent="1"),  # late span of an old trace: goes with it
            span("b", "3", 100, incident="new", links=(Link("a" * 32, "1" * 16),)),
            span("c", "4", 5, links=(Link("b" * 32, "3" * 16),)),
        ]
    )
    assert store.prune(older_than_ns=50 * MS) == 3  # traces a and c
    assert store.traces_of_incident("old") == []
    assert store.traces_of_incident("new") == ["b" * 32]
    assert store.prune(older_than_ns=50 * MS) == 0


def test_a_cutoff_that_keeps_about_the_newest_spans(store: SpanStore) -> None:
    store.insert([span(t, str(i), 10 * i) for i, t in enumerate("abcde")])
    assert store.cutoff_keeping(10) is None  # fewer than that
    cutoff = store.cutoff_keeping(2)
    assert cutoff is not None
    assert store.prune(cutoff) == 3
    assert len(store.spans_of(t * 32 for t in "abcde")) == 2
