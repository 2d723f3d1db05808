import json

import numpy as np
import pytest

from replay_gym.__main__ import main
from replay_gym.metrics import relative_gain
from replay_gym.plots import new_figure, plot_curves, plot_final, plot_gain, plot_scatter
from replay_gym.results import load_runs
from replay_gym.stats import linear_regression

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sweep(tmp_path, make_run):
    """none and regression, 2 seeds x 3 days x 3 classes; regression replays weak classes."""
    before = {s: [[0.1 + s / 10, 0.5, 0.8]] * 3 for s in (0, 1)}
    make_run(
        tmp_path / "sweep" / "none",
        "none",
        before,
        {0: [[0.2, 0.5, 0.8], [0.3, 0.6, 0.8], [0.5, 0.6, 0.9]], 1: [[0.3, 0.6, 0.8]] * 3},
    )
    make_run(
        tmp_path / "sweep" / "regression",
        "regression",
        before,
        {0: [[0.3, 0.5, 0.8], [0.5, 0.6, 0.8], [0.6, 0.7, 0.9]], 1: [[0.4, 0.6, 0.8]] * 3},
        replays={0: [[20, 10, 2]] * 3, 1: [[16, 12, 4]] * 3},
    )
    return tmp_path / "sweep"


def is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000


def test_compare_prints_the_table_and_writes_curves(sweep, tmp_path, capsys):
    text = main(["compare", str(sweep), "--out", str(tmp_path / "figs" / "curves.png")])
    assert is_png(tmp_path / "figs" / "curves.png")
    printed = capsys.readouterr().out
    assert text in printed and "none (n=2)" in printed and "regression (n=2)" in printed
    # none, day 1: seeds at 0.5 and 0.567: mean 0.533, s.e.m. 0.033
    assert "0.533 ± 0.033" in printed
    assert not list(tmp_path.glob("figs/.*"))  # no temporary file left behind


def test_compare_without_out_writes_no_figure(sweep, tmp_path):
    main(["compare", str(sweep / "none"), "--metric", "test_accuracy_after_day"])
    assert not list(tmp_path.rglob("*.png"))


@pytest.mark.parametrize("kind", ["curves", "final", "scatter", "gain"])
def test_plot_writes_each_kind(sweep, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    assert main(["plot", kind, str(sweep), "--out", str(out)]) == out
    assert is_png(out)


def test_curves_show_means_with_sem_bands(sweep):
    table = load_runs([sweep])
    ax = new_figure().add_subplot()
    plot_curves(ax, table)
    none = table[table["label"] == "none"].groupby("day")["test_accuracy"].mean()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), none.to_numpy())
    assert len(ax.collections) == 2  # one band per label
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["none (n=2)", "regression (n=2)"]


def test_final_bars_are_last_day_means(sweep):
    table = load_runs([sweep])
    ax = new_figure().add_subplot()
    plot_final(ax, table)
    heights = [bar.get_height() for bar in ax.patches]
    last = table[table["day"] == 3].groupby("label", sort=False)["test_accuracy"].mean()
    np.testing.assert_allclose(heights, last.to_numpy())
    assert ax.get_ylabel().endswith("day 3")


def test_scatter_draws_the_regression_line_and_r2(sweep):
    table = load_runs([sweep])
    ax = new_figure().add_subplot()
    plot_scatter(ax, table)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    # per class, averaged over seeds: accuracy after day 1 before its night 0.15, 0.5, 0.8;
    # replays over 3 nights (20 + 16) / 2 x 3 = 54, 33, 9
    fit = linear_regression([0.15, 0.5, 0.8], [54, 33, 9])
    assert legend[0].startswith("none: no line")
    assert legend[1].startswith(f"regression: R²={fit.r2:.2f}, F(1,1)=") and fit.slope < 0
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y, fit.slope * np.asarray(x) + fit.intercept)


def test_gain_follows_relative_gain_of_the_mean_curve(sweep):
    table = load_runs([sweep])
    ax = new_figure().add_subplot()
    plot_gain(ax, table)
    none = table[table["label"] == "none"].groupby("day")["test_accuracy"].mean().to_numpy()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), relative_gain(none))
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [3])


def test_clear_errors(sweep, tmp_path, make_run):
    with pytest.raises(SystemExit, match="no such run directory"):
        main(["compare", str(tmp_path / "missing")])
    with pytest.raises(SystemExit, match="name the file \\*.png"):
        main(["plot", "curves", str(sweep), "--out", str(tmp_path / "x.jpg")])
    with pytest.raises(SystemExit, match="unknown metric"):
        main(["plot", "final", str(sweep), "--out", str(tmp_path / "x.png"), "--metric", "acc"])
    short = make_run(tmp_path / "short", "none", {0: [[0.1], [0.2]]}, {0: [[0.2], [0.3]]})
    with pytest.raises(SystemExit, match="needs at least 3"):
        main(["plot", "gain", str(short), "--out", str(tmp_path / "g.png")])
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.slow
def test_compare_and_plot_a_real_run(tmp_path, make_run):
    out = tmp_path / "rr"
    main(["run", "--condition", "round-robin", "--preset", "smoke", "--env.days", "2"]
         + ["--out", str(out), "--no-progress"])  # fmt: skip
    real = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    fake = make_run(tmp_path / "fake", "none", {0: [[0.1]]}, {0: [[0.2]]})
    assert json.loads((fake / "results.jsonl").read_text())["condition"] == "none"
    assert set(json.loads((fake / "results.jsonl").read_text())) <= set(real)  # same format
    main(["compare", str(out), "--out", str(tmp_path / "c.png")])
    main(["plot", "scatter", str(out), "--out", str(tmp_path / "s.png")])
    assert is_png(tmp_path / "c.png") and is_png(tmp_path / "s.png")


def test_save_figure_writes_png_only_and_makes_its_folder(tmp_path):
    from replay_gym.plots import save_figure

    fig = new_figure()
    fig.add_subplot().plot([0, 1])
    out = save_figure(fig, tmp_path / "a" / "b" / "fig.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["fig.png"]  # no temporary file left
    with pytest.raises(ValueError, match="name the file \\*.png"):
        save_figure(fig, tmp_path / "fig.pdf")


def test_compare_says_when_its_runs_computed_on_different_processors(sweep, capsys):
    from replay_gym.results import processor_name, processors

    assert main(["compare", str(sweep)]).count("note:") == 0  # nothing recorded: nothing said
    for name, cpu in (("none", "Intel Xeon"), ("regression", "AMD EPYC")):
        config = json.loads((sweep / name / "config.json").read_text())
        config["machine"] = {"cpu": cpu, "cpu_capability": "AVX2"}
        (sweep / name / "config.json").write_text(json.dumps(config))
    table = load_runs([sweep])
    assert processors(table) == ["AMD EPYC (AVX2)", "Intel Xeon (AVX2)"]
    text = main(["compare", str(sweep)])
    assert "note: these runs computed on 2 kinds of processor (AMD EPYC (AVX2); Intel" in text
    assert main(["compare", str(sweep / "none")]).count("note:") == 0  # one kind
    assert processor_name({}) is None and processor_name({"machine": {}}) is None
