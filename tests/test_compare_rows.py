"""benchmarks/leaderboard/compare_rows.py on a leaderboard.json whose answers are known."""

import json

import pytest

SCRIPT = "benchmarks/leaderboard/compare_rows.py"


def _board(preset, rows):
    return {"preset": preset, "rows": {
        name: {"seeds": seeds, "mean_over_days": values, "final": values}
        for name, (seeds, values) in rows.items()}}  # fmt: skip


def test_rows_are_paired_by_seed_on_every_board_that_has_both(tmp_path, load_script):
    compare = load_script(SCRIPT)
    board = {"boards": [
        # seeds in another order in one row: pairing goes by seed, not by position
        _board("a", {"v": ([0, 1, 2], [0.6, 0.72, 0.8]), "b": ([2, 0, 1], [0.7, 0.5, 0.6])}),
        _board("b", {"b": ([0, 1], [0.5, 0.5])}),  # no variant here: left out
    ]}  # fmt: skip
    path = tmp_path / "leaderboard.json"
    path.write_text(json.dumps(board))
    entries = compare.compare(board, "v", "b")
    assert [e["preset"] for e in entries] == ["a"] and entries[0]["seeds"] == [0, 1, 2]
    assert entries[0]["mean_over_days"].startswith("0.107 ± 0.007")
    text = compare.main(compare.Args(row="v", base="b", board=path))
    assert "| a | 3 | 0.107 ± 0.007" in text
    with pytest.raises(SystemExit, match="no board has both 'v' and 'x'; rows: \\['b', 'v'\\]"):
        compare.main(compare.Args(row="v", base="x", board=path))
    with pytest.raises(SystemExit, match="no such file"):
        compare.main(compare.Args(row="v", base="b", board=tmp_path / "missing.json"))
