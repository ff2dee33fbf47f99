"""The package stays readable: no function longer than about a screen, no module that has grown past
what one person can hold (the engine issue's limits: 150 and 600 lines)."""

import ast
from pathlib import Path

import synthgp

PACKAGE = Path(synthgp.__file__).parent
MAX_FUNCTION, MAX_MODULE = 150, 600


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_600_lines():
    long = {str(f.relative_to(PACKAGE)): n for f in _modules() if (n := len(f.read_text().splitlines())) > MAX_MODULE}
    assert len(_modules()) > 50 and not long


def test_no_function_is_over_150_lines():
    long = {}
    for f in _modules():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (n := node.end_lineno - node.lineno + 1) > MAX_FUNCTION:
                    long[f"{f.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = n
    assert not long


def test_no_file_holds_a_merge_conflict_marker():
    """A docs page once kept a merge's conflict markers for a day; no text file may hold one."""
    root = PACKAGE.parents[1]
    marker = ("<" * 7 + " ", ">" * 7 + " ")
    found = []
    for folder in ("src", "tests", "docs", "benchmarks"):
        for f in (root / folder).rglob("*"):
            if f.suffix in {".py", ".md", ".toml", ".csv", ".html", ".sql", ".js", ".txt"} and f.is_file():
                found += [f"{f.relative_to(root)}:{i}" for i, line in enumerate(f.read_text(errors="replace").splitlines(), 1)
                          if line.startswith(marker)]
    assert (root / "README.md").is_file() and not found
