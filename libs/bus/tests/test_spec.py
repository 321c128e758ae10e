"""What a consumer's spec declares: the order its messages are handled in."""

from icc_bus import ConsumerSpec, ReceivedEvent, by_header, by_subject


def received(subject: str, headers: dict[str, str]) -> ReceivedEvent:
    return ReceivedEvent(subject, b"", headers, "e-1", None, stream_seq=1, num_delivered=1)


def test_messages_are_ordered_by_subject_unless_the_spec_names_a_header() -> None:
    about_a = received("icc.test.one", {"Thing": "a"})
    plain = received("icc.test.two", {})
    assert ConsumerSpec("S", "d", "icc.test.>").order_key is by_subject
    assert by_subject(about_a) == "icc.test.one"
    by_thing = by_header("Thing")
    assert by_thing(about_a) == "a"
    assert by_thing(plain) == "icc.test.two"  # without the header: by subject
