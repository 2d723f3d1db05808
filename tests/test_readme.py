"""README stays true: every module in its layout, every file it names present, no outside refs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def test_the_layout_lists_every_module():
    layout = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    missing = [
        str(path.relative_to(REPO))
        for folder in ("replay_gym", "agents")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path.name != "__init__.py"
        and path.name not in layout
        and not re.search(rf"\b{re.escape(path.stem)}\b", layout)
    ]
    assert missing == []


def test_every_file_the_readme_names_exists():
    folders = "docs|tests|examples|benchmarks|replay_gym|agents"
    named = set(re.findall(rf"(?<![\w/.])((?:{folders})/[\w./-]*\w)", README))  # not in URLs
    assert len(named) > 20
    made = {name for name in named if "runs" in name.split("/")}  # what running a command makes
    missing = sorted(name for name in named - made if not (REPO / name).exists())
    assert missing == []


def test_the_method_it_cites_is_in_the_repository():
    assert "SPEC" not in README  # the method lives in docs/METHOD.md, shipped with the code
    assert "docs/METHOD.md" in README and (REPO / "docs" / "METHOD.md").is_file()
