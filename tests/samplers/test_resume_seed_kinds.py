"""A run with a seed sampler, interrupted mid-night and resumed, ends with the same bytes."""

from __future__ import annotations

import pytest
from test_resume import outputs, resume

from replay_gym.__main__ import main

FLAGS = ["--preset", "smoke", "--env.days", "2", "--env.data.train-per-class", "20",
         "--env.sampler.cvae.epochs", "2", "--env.sampler.recall.steps", "2", "--threads", "1",
         "--no-progress"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "condition"),
    [("recall", "generative"), ("cvae-repulsion", "round-robin"), ("cvae", "generative")],
)
def test_sigterm_mid_night_two_then_resume_is_exact(
    kind, condition, tmp_path, monkeypatch, stop_at_replay
):
    def cli(out):
        return ["run", "--condition", condition, "--out", str(out), "--env.sampler.kind", kind,
                *FLAGS]  # fmt: skip

    main(cli(tmp_path / "reference"))
    out = tmp_path / "run"
    night = 7  # ceil(20 images x 4 classes / batch 12)
    stop_at_replay(night + 3)  # night 2, step 3: after the copy of day 2's network
    with pytest.raises(SystemExit) as stopped:
        main(cli(out))
    assert stopped.value.code == 143  # SIGTERM: checkpoint written, resumable
    monkeypatch.undo()
    resume(out)
    assert outputs(out) == outputs(tmp_path / "reference")
