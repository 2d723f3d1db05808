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
    found = list(re.finditer(rf"(?<![\w/.])((?:{folders})/[\w./-]*\w)", README))  # not in URLs
    assert len(found) > 20
    missing = sorted(
        {
            match.group(1)
            for match in found
            if not (REPO / match.group(1)).exists()
            # what running a command makes: a run directory, or the folder a script "writes"
            and "runs" not in match.group(1).split("/")
            and not README[: match.start()].endswith("writes ")
        }
    )
    assert missing == []


def test_the_method_it_cites_is_in_the_repository():
    assert "SPEC" not in README  # the method lives in docs/METHOD.md, shipped with the code
    assert "docs/METHOD.md" in README and (REPO / "docs" / "METHOD.md").is_file()
