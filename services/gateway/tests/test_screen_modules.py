"""The screen's index.html preloads every module app.js imports (directly or not), and
nothing else: the browser then asks for them all at once instead of one level of imports
after another."""

import re
from pathlib import Path

import icc_gateway

WEB = Path(icc_gateway.__file__).parent / "web"
IMPORT = re.compile(r"""^import [^'"]*'\./([\w.-]+\.js)'""", re.MULTILINE)
PRELOAD = re.compile(r'<link rel="modulepreload" href="([\w.-]+\.js)">')


def imported_from(entry: str) -> set[str]:
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(IMPORT.findall((WEB / name).read_text("utf-8")))
    return seen - {entry}


def test_index_preloads_exactly_the_modules_the_screen_imports() -> None:
    preloaded = PRELOAD.findall((WEB / "index.html").read_text("utf-8"))
    assert len(preloaded) == len(set(preloaded)), "a module is preloaded twice"
    assert set(preloaded) == imported_from("app.js")
