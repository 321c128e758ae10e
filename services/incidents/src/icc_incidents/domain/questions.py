"""Key questions: per family of incident types, the few questions whose answers set
the priority, may change the type, and give the call-taker words for the caller
(`data/key_questions.json`)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from icc_incidents.domain.catalog import Catalog
from icc_incidents.domain.model import KeyAnswer
from icc_kernel.errors import Violation
from icc_kernel.vocabulary import Priority

MAX_ANSWERS = 20


@dataclass(frozen=True)
class AnswerOption:
    value: str
    label_vi: str
    label_en: str
    priority: Priority | None = None
    type_code: str = ""
    instruction_vi: str = ""
    instruction_en: str = ""


@dataclass(frozen=True)
class KeyQuestion:
    id: str
    family: str
    text_vi: str
    text_en: str
    options: tuple[AnswerOption, ...]
    # Asked only for these types; empty: for every type of the family.
    types: tuple[str, ...] = ()

    def option(self, value: str) -> AnswerOption | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class Outcome:
    """What a set of answers calls for."""

    priority: Priority | None
    type_code: str
    instructions: tuple[str, ...]


class KeyQuestions:
    def __init__(self, questions: Sequence[KeyQuestion], catalog: Catalog) -> None:
        self._all = tuple(questions)
        self._by_id = {q.id: q for q in self._all}
        self._catalog = catalog
        if len(self._by_id) != len(self._all):
            raise ValueError("a key question id is used twice")
        for q in self._all:
            named = {o.type_code for o in q.options if o.type_code} | set(q.types)
            unknown = sorted(c for c in named if c not in catalog)
            if unknown:
                raise ValueError(f"key question {q.id} names unknown types {unknown}")

    @classmethod
    def from_json(cls, text: str, catalog: Catalog) -> "KeyQuestions":
        data = json.loads(text)
        questions = [
            KeyQuestion(
                id=q["id"],
                family=family,
                text_vi=q["text_vi"],
                text_en=q["text_en"],
                types=tuple(q.get("types", ())),
                options=tuple(
                    AnswerOption(
                        value=o["value"],
                        label_vi=o["label_vi"],
                        label_en=o["label_en"],
                        priority=Priority(o["priority"]) if "priority" in o else None,
                        type_code=o.get("type_code", ""),
                        instruction_vi=o.get("instruction_vi", ""),
                        instruction_en=o.get("instruction_en", ""),
                    )
                    for o in q["options"]
                ),
            )
            for family, items in data["families"].items()
            for q in items
        ]
        return cls(questions, catalog)

    def for_type(self, type_code: str) -> tuple[KeyQuestion, ...]:
        """The questions asked for a type, in order (none for an unknown type)."""
        if type_code not in self._catalog:
            return ()
        family = self._catalog.family_of(type_code)
        return tuple(
            q for q in self._all if q.family == family and (not q.types or type_code in q.types)
        )

    def check(
        self, type_code: str, answers: Sequence[KeyAnswer], field: str, out: list[Violation]
    ) -> None:
        """Each answer must answer a question of the type's family with one of its options."""
        if len(answers) > MAX_ANSWERS:
            out.append(Violation(field, f"at most {MAX_ANSWERS} answers"))
            return
        family = self._catalog.family_of(type_code) if type_code in self._catalog else ""
        seen: set[str] = set()
        for n, a in enumerate(answers):
            q = self._by_id.get(a.question)
            if q is None or q.family != family:
                out.append(
                    Violation(
                        f"{field}[{n}].question",
                        f"no key question {a.question[:60]!r} for {type_code or 'this type'}; "
                        "see ListKeyQuestions",
                    )
                )
                continue
            if a.question in seen:
                out.append(Violation(f"{field}[{n}].question", "answered twice"))
            seen.add(a.question)
            if q.option(a.answer) is None:
                values = ", ".join(o.value for o in q.options)
                out.append(Violation(f"{field}[{n}].answer", f"one of {values}"))

    def outcome(self, answers: Sequence[KeyAnswer]) -> Outcome:
        """The most urgent priority the answers call for, the type the last type-setting
        answer (in question order) names, and every instruction, in question order."""
        chosen: list[AnswerOption] = []
        given = {a.question: a.answer for a in answers}
        for q in self._all:
            if q.id in given:
                option = q.option(given[q.id])
                if option is not None:
                    chosen.append(option)
        priorities = [o.priority for o in chosen if o.priority is not None]
        types = [o.type_code for o in chosen if o.type_code]
        return Outcome(
            priority=min(priorities) if priorities else None,
            type_code=types[-1] if types else "",
            instructions=tuple(o.instruction_vi for o in chosen if o.instruction_vi),
        )


def merged(earlier: Sequence[KeyAnswer], later: Sequence[KeyAnswer]) -> tuple[KeyAnswer, ...]:
    """Earlier answers with the later ones replacing those to the same questions."""
    out = {a.question: a for a in earlier}
    out.update({a.question: a for a in later})
    return tuple(out.values())
