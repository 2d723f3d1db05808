from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from replay_gym.run_logger import RunLogger, flatten, hyperparameter_table


def test_flatten_and_table():
    assert flatten({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}
    table = hyperparameter_table({"env": {"days": 3}, "seed": 0})
    assert table.splitlines()[:2] == ["|param|value|", "|-|-|"]
    assert "|env.days|3|" in table and "|seed|0|" in table


def test_run_logger_writes_namespaced_tags(tmp_path):
    logger = RunLogger(tmp_path, {"condition": "x"})
    logger.step(1, {"reward": 0.5, "chi2": 3.0})
    record = {
        "day": 1,
        "test_accuracy": 0.5,
        "val_accuracy": 0.4,
        "test_accuracy_after_day": 0.45,
        "reward_sum": 1.0,
        "test_class_accuracy": [0.2, 0.8],
        "val_class_accuracy": [0.3, 0.5],
        "replay_counts": [3, 1],
    }
    logger.day(record, ["a", "b"], preferences=[0.7, 0.3])
    logger.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"step/reward", "step/chi2", "day/test_accuracy", "night/replays/a"} <= scalars
    assert {
        "night/preference/b",
        "day/test_class_accuracy/b",
        "day/val_class_accuracy/a",
    } <= scalars
    assert events.Scalars("night/replays/a")[0].value == 3
    assert "hyperparameters/text_summary" in events.Tags()["tensors"]


def test_resumed_logger_hides_the_steps_logged_again(tmp_path):
    first = RunLogger(tmp_path, {"condition": "x"})
    for index in range(1, 6):
        first.step(index, {"reward": float(index), "chi2": 0.0})
    first.close()  # killed after step 5; the checkpoint was taken after step 3
    again = RunLogger(tmp_path, {"condition": "x"}, resume_step=4)
    for index in range(4, 7):
        again.step(index, {"reward": 10.0 * index, "chi2": 0.0})
    again.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    rewards = [(e.step, e.value) for e in events.Scalars("step/reward")]
    assert rewards == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 40.0), (5, 50.0), (6, 60.0)]
