"""ReplaySelect: pick the class a VGG-16 replays at night, rewarded by a validation chi-square."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from replay_gym.config import EnvConfig, apply_overrides, config_to_dict
from replay_gym.config import preset as preset_config
from replay_gym.data import load_dataset
from replay_gym.learner.cortex import DayViews, Learner
from replay_gym.learner.weights import load_base_state
from replay_gym.metrics import chi_square, class_accuracy, confusion_matrix, overall_accuracy
from replay_gym.samplers import LearnerDivergedError, Sampler
from replay_gym.scenarios import Scenario, make_scenario
from replay_gym.statefile import differences, load_tree, rng_from_state, rng_state, save_tree

STATE_KIND = "env"
"""The ``kind`` of the state files :meth:`ReplaySelectionEnv.save_state` writes."""


class ReplaySelectionEnv(gym.Env[np.ndarray, np.int64]):
    """Choose which class a VGG-16 replays at night; the reward is the validation chi-square drop.

    ## Description

    Barry & Love's model of sleep replay (PLOS Comp. Biol. 2023, "A neural network account of
    memory replay and knowledge consolidation") as a selection problem. A VGG-16 ("cortex")
    learns new image classes over *days*, one epoch of augmented real images each. After every
    day comes a *night*: the network is cut at one max-pool layer, a multivariate normal is
    fitted per class to the day's activations there, and generated activations are trained
    through the part above the cut. The agent plays the "hippocampus": at each night step it
    picks the class whose generated batch is replayed next.

    ## Action Space

    `Discrete(n_classes)`: the class whose batch (`learner.batch_size` samples, 36 in the paper)
    is drawn from the sampler and replayed. Only the classes the scenario has shown by now are
    valid (every class in the paper's scenario): `info["action_mask"]` and `action_masks()` (as
    sb3-contrib's `MaskablePPO` reads it) mark them, and another class is refused.

    ## Observation Space

    `Box(shape=(3 * n_classes + 2,), dtype=float32)`, in order:

    | slice | meaning | range |
    |---|---|---|
    | `[0, n)` | validation accuracy of each class now | [0, 1] |
    | `[n, 2n)` | change of each class's validation accuracy since the night began | [-1, 1] |
    | `[2n, 3n)` | each class's share of this night's replays so far (0 before any) | [0, 1] |
    | `3n` | progress through the night: steps done / steps per night | [0, 1] |
    | `3n + 1` | progress through the course: (day - 1 + night progress) / days | [0, 1] |

    ## Rewards

    chi2 before the step minus chi2 after it on the validation set, with
    chi2 = sum_c (correct_c - n_c)^2 / n_c (n_c: validation images of class c): positive when
    replay helped. A day's training changes chi2 too; that change is reported as
    `info["day_end"]["chi2_drop"]`, not rewarded. The first step of a night starts from the
    value after that day's training.

    ## Starting State

    `reset(seed)` builds a fresh learner from the pretrained conv base with a new head, trains
    day 1, fits the sampler and returns the state at the start of night 1.
    `reset(options={"state": path})` instead continues from a state saved by `save_state`
    (see below); the seed must then be left out.

    ## Episode End

    A night ends after `steps_per_night` steps (325 in the paper). The env then trains the next
    day (on real images, or on generated replay after `real_days`) and refits the sampler; the
    step that did so carries `info["night_end"]` and `info["day_end"]`. The episode terminates
    when the last night ends. It is never truncated.

    ## Info

    Always: `chi2`, `class_accuracy` (validation, per class), `day` (1-based), `night_step`
    (steps done this night), `action_mask` (the valid actions). After `reset` and any step that
    ends a night or a day, also `test_accuracy` and `test_class_accuracy` of the current
    network, and on such steps `night_end` (the finished night: `day`, `steps`, `replay_counts`,
    `chi2`, `class_accuracy`, `test_accuracy`, `test_class_accuracy`) and, unless the episode
    ended, `day_end` (the new day: `day`, `real_images`, `loss`, `chi2`, `chi2_drop` (the day's
    change of chi2; `None` on day 1, which has no earlier value), `class_accuracy`,
    `val_accuracy`, `test_accuracy`, `test_class_accuracy`).

    ## Arguments

    ```python
    import gymnasium as gym
    import replay_gym
    env = gym.make("ReplaySelect-v0")                   # embedded default, runs on a CPU
    env = gym.make("ReplaySelect-v0", preset="smoke")   # tiny, for tests
    env = gym.make("ReplaySelect-v0", preset="paper", root="/data/imagenet-fall11")
    env = gym.make("ReplaySelect-v0", days=3, replay_layer=5, adam_eps=1e-8)
    ```

    `config` (an `EnvConfig`) or `preset` ("default", "smoke", "fashion-mnist", "paper") gives the
    base configuration; keyword overrides change single settings: an `EnvConfig` field, a section
    dict (`learner={"lr": 1e-3}`) or a field name unique to one section (`adam_eps=1e-8`).

    `scenario` picks which classes each day trains on and each night may replay and test
    (`replay_gym.scenarios`): `"paper"` (default), every class every day; `"class-incremental"`,
    classes arriving in tasks of `classes_per_task`, `days_per_task` days each, a day training
    on its task's real images only, validation, reward, observation and test covering the
    classes seen so far (unseen classes score 0 in the observation), and the night ending after
    every generated sample of the seen classes once (`steps_per_night` unset), so nights grow as
    classes arrive (`env.night_length` is tonight's).

    Beyond `step`, two primitives serve fixed schedules: `replay_batch(x, y)` trains one
    mixed-class batch of replay activations as a step, and `end_night()` ends the night
    without (further) replay. `probe(action)` returns the reward `step(action)` would give now
    and changes nothing.

    `save_state(path)` writes everything the environment needs to continue exactly (learner
    weights and Adam state, sampler, cached activations, counters, every RNG state) to one
    safetensors file, at any point after `reset`, mid-night too; `load_state(path)` restores it
    into an environment built with the same configuration (another configuration or package
    version is refused, naming the difference), after which the same actions give the same
    rewards, observations and infos. Loading never executes code from the file. On an env made
    with `gym.make`, load through `reset(options={"state": path})` so that the wrappers see a
    reset.

    >>> import gymnasium as gym, replay_gym
    >>> env = gym.make("ReplaySelect-v0", preset="smoke")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["day"], info["night_step"]
    ((14,), 1, 0)
    >>> obs, reward, terminated, truncated, info = env.step(2)
    >>> info["night_step"], terminated
    (1, False)

    ## Version History

    * v0: initial version. Before the first release (0.1.0 development) the embedded
      `default` and `smoke` presets were recalibrated so that replay and its choice matter
      (Adam epsilon 1e-2, no down-sampling at block 4, the sampler fitted to the day's
      augmented views); the `paper` preset is unchanged.
    """

    metadata = {"render_modes": []}

    def __init__(
        self, config: EnvConfig | None = None, *, preset: str = "default", **overrides: Any
    ) -> None:
        if config is not None and not isinstance(config, EnvConfig):
            raise ValueError(f"config must be an EnvConfig, got {type(config).__name__}")
        base = config if config is not None else preset_config(preset)
        # Every setting was checked when its config was built; nothing is loaded before that.
        self.config = apply_overrides(base, **overrides) if overrides else base
        self.layer = self.config.replay_layer
        # Built before the data so that an unknown sampler kind fails before any loading.
        self.scenario: Scenario = make_scenario(self.config)
        self.sampler: Sampler = self.scenario.make_sampler(self.layer)
        self.data = load_dataset(self.config.data, self.config.learner.input_size)
        self.n_classes = self.data.n_classes
        self.night_length = self.scenario.night_length(1)
        """Steps of the current night (the scenario's; fixed in the paper's)."""
        self._base_state = load_base_state(self.config.learner)

        n = self.n_classes
        low = np.concatenate([np.zeros(n), -np.ones(n), np.zeros(n + 2)]).astype(np.float32)
        self.observation_space = spaces.Box(low=low, high=np.ones(3 * n + 2, np.float32))
        self.action_space = spaces.Discrete(n)

        self.learner: Learner | None = None
        self.day_views: DayViews | None = None
        """Order and augmentation of the last day trained on real images."""
        self.day = 0
        self.night_step = 0
        self._done = False

    # -- Gymnasium API --------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new course: fresh learner, day 1 trained, sampler fitted.

        With ``options={"state": path_or_state}`` continue from a saved state instead (see
        :meth:`load_state`); the returned info then holds only the keys every step has.
        """
        state = (options or {}).get("state")
        if state is not None:
            if seed is not None:
                raise ValueError("reset: pass a seed or options['state'], not both")
            if isinstance(state, dict):
                self.load_state_dict(state)
            else:
                self.load_state(state)
            return self._observation(), self._info()
        super().reset(seed=seed)
        seeds = self.np_random.integers(0, 2**62, size=3)
        init_gen, self._day_gen, self._night_gen = (
            torch.Generator().manual_seed(int(s)) for s in seeds
        )
        # Drawn after the three above, so they (and every sampler that draws nothing while
        # fitting) are as before the sampler had its own generator.
        self._sampler_gen = torch.Generator().manual_seed(int(self.np_random.integers(0, 2**62)))
        self.learner = Learner(self.config.learner, self.n_classes, self._base_state, init_gen)
        self.sampler = self.scenario.make_sampler(self.layer)
        self.sampler.bind(self.learner, self.layer)
        self.day = 0
        self._done = False
        self._chi2 = float("nan")
        day_end = self._start_day()
        return self._observation(), {**self._info(), **_test_of(day_end), "day_end": day_end}

    def step(self, action: int | np.integer) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Replay one generated batch of class ``action``."""
        action = self._check_action(action)
        self._check_running()
        self._check_seen([action])
        samples = self.sampler.sample(action, self.config.learner.batch_size, self._night_gen)
        labels = torch.full((len(samples),), action, dtype=torch.int64)
        return self._replay(samples, labels)

    # -- primitives for fixed schedules ---------------------------------------------------

    def replay_batch(
        self, activations: torch.Tensor, labels: torch.Tensor
    ) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Train one batch of replay activations of any classes; counts as one night step.

        Used by the paper's fixed conditions (mixed-class generative and veridical batches).
        ``activations`` has the replay layer's shape per item; ``labels`` are class indices.
        The sampler finishes the batch first (``Sampler.finish_batch``): the recall sampler
        optimises it against the network as it is now; the others train it as given.
        """
        self._check_running()
        expected = self.config.learner.pool_shape(self.layer)
        if activations.ndim != 4 or tuple(activations.shape[1:]) != expected:
            raise ValueError(
                f"activations must be [batch, {', '.join(map(str, expected))}] for replay at "
                f"block {self.layer}, got {tuple(activations.shape)}"
            )
        labels = torch.as_tensor(labels, dtype=torch.int64)
        if labels.shape != (len(activations),) or len(labels) == 0:
            raise ValueError(
                f"labels must be 1-D with one label per activation ({len(activations)}), "
                f"got shape {tuple(labels.shape)}"
            )
        if labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"labels must lie in 0..{self.n_classes - 1}")
        self._check_seen(torch.unique(labels).tolist())
        return self._replay(self.sampler.finish_batch(activations, labels), labels)

    def end_night(self) -> tuple[np.ndarray, float, bool, bool, dict]:
        """End the current night now (no further replay) and train the next day."""
        self._check_running()
        info = self._info()
        terminated = self._finish_night(info)
        return self._observation(), 0.0, terminated, False, info

    def night_samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sample of one full night of the paper's replay, shuffled.

        Gaussian sampler: ``samples_per_class`` fresh samples of every class; veridical: each
        stored activation of the day once; recall: the starting points, each batch recalled
        when :meth:`replay_batch` replays it. Drawn with the env's night generator.
        """
        self._check_running()
        samples, labels = self.sampler.sample_night(self.config.samples_per_class, self._night_gen)
        order = torch.randperm(len(labels), generator=self._night_gen)
        return samples[order.to(samples.device)], labels.cpu()[order]

    def probe(self, action: int | np.integer) -> float:
        """The reward ``step(action)`` would give now; learner, sampler and RNG are restored."""
        return self.probe_plan([action])

    def probe_plan(self, actions: Sequence[int | np.integer]) -> float:
        """The drop in chi-square that stepping through ``actions`` would give from now.

        Each action replays one batch of its class, as :meth:`step` does, without crossing the
        end of the night; the validation set is scored once, after the last batch. Learner,
        sampler and RNG are restored afterwards, so stepping the same actions then gives these
        rewards again in total (the privileged look-ahead of the ``oracle-night`` selector).

        Raises:
            ValueError: If ``actions`` is empty, longer than the steps left in the night, or
                names a class that is invalid or not seen yet.
        """
        self._check_running()
        actions = [self._check_action(a) for a in actions]
        if not actions:
            raise ValueError("actions must name at least one class to replay")
        left = self.night_length - self.night_step
        if len(actions) > left:
            raise ValueError(
                f"a plan of {len(actions)} steps does not fit the {left} steps left in the night"
            )
        self._check_seen(sorted(set(actions)))
        snapshot = self.learner.snapshot_above(self.layer)
        generator_state = self._night_gen.get_state()
        saved = (self._chi2, self._val_confusion)
        try:
            for action in actions:
                samples = self.sampler.sample(
                    action, self.config.learner.batch_size, self._night_gen
                )
                labels = torch.full((len(samples),), action, dtype=torch.int64)
                self._train_replay(samples, labels)
            self._evaluate_validation()
            return saved[0] - self._chi2
        finally:
            self.learner.restore_above(self.layer, snapshot)
            self._night_gen.set_state(generator_state)
            self._chi2, self._val_confusion = saved

    def action_masks(self) -> np.ndarray:
        """The valid actions now: True for each class the scenario has shown (sb3-contrib's name).

        Raises:
            gymnasium.error.ResetNeeded: Before the first :meth:`reset`.
        """
        self._check_reset()
        return self.scenario.action_mask(self.day)

    @property
    def night_generator(self) -> torch.Generator:
        """The generator of the night's draws (fixed schedules save its state to redraw a night)."""
        self._check_reset()
        return self._night_gen

    # -- saving and restoring -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here, as a state tree.

        The tree (see :mod:`replay_gym.statefile`) holds the configuration and package version
        (checked on load), the learner's weights and Adam state, the fitted sampler, the cached
        activations, the counters and every RNG state. Valid at any point after :meth:`reset`;
        a snapshot (later steps do not change it).

        Raises:
            gymnasium.error.ResetNeeded: Before the first :meth:`reset`.
        """
        from replay_gym.provenance import replay_gym_version

        self._check_reset()
        return {
            "version": replay_gym_version(),
            "config": config_to_dict(self.config),
            "np_random": rng_state(self.np_random),
            "np_random_seed": self._np_random_seed,
            "generators": {
                "day": self._day_gen.get_state(),
                "night": self._night_gen.get_state(),
                "sampler": self._sampler_gen.get_state(),
            },
            "learner": self.learner.state_dict(),
            "sampler": self.sampler.state_dict(),
            "day": self.day,
            "night_step": self.night_step,
            "done": self._done,
            "chi2": self._chi2,
            "val_confusion": self._val_confusion.copy(),
            "night_counts": self._night_counts.copy(),
            "night_start_accuracy": self._night_start_accuracy.copy(),
            "val_acts": self._val_acts,
            "test_acts": self._test_acts,
            "day_views": None if self.day_views is None else self.day_views.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of an environment with the same configuration.

        Raises:
            ValueError: If the state comes from another replay-gym version or another
                configuration (the message names the differences).
        """
        from replay_gym.provenance import replay_gym_version

        if state.get("version") != replay_gym_version():
            raise ValueError(
                f"the saved environment state was written by replay-gym {state.get('version')}, "
                f"this is {replay_gym_version()}; load it with that version"
            )
        current = json_config(self.config)
        changed = differences(state["config"], current)
        if changed:
            raise ValueError(
                "the saved environment state has another configuration: " + "; ".join(changed)
            )
        self.np_random = rng_from_state(state["np_random"])
        self._np_random_seed = state["np_random_seed"]
        generators = state["generators"]
        self._day_gen, self._night_gen = torch.Generator(), torch.Generator()
        self._day_gen.set_state(generators["day"])
        self._night_gen.set_state(generators["night"])
        self._sampler_gen = torch.Generator()
        if "sampler" in generators:  # states saved before the sampler had its own generator
            self._sampler_gen.set_state(generators["sampler"])
        self.learner = Learner(
            self.config.learner, self.n_classes, self._base_state, torch.Generator()
        )
        self.learner.load_state_dict(state["learner"])
        device = self.learner.device
        self.sampler = self.scenario.make_sampler(self.layer)
        self.sampler.bind(self.learner, self.layer)
        self.sampler.load_state_dict(state["sampler"], device)
        self.day = int(state["day"])
        self.night_length = self.scenario.night_length(self.day)
        self._set_eval_labels()
        self.night_step = int(state["night_step"])
        self._done = bool(state["done"])
        self._chi2 = float(state["chi2"])
        self._val_confusion = np.array(state["val_confusion"])
        self._night_counts = np.array(state["night_counts"])
        self._night_start_accuracy = np.array(state["night_start_accuracy"])
        self._val_acts = state["val_acts"].to(device)
        self._test_acts = state["test_acts"].to(device)
        views = state["day_views"]
        self.day_views = None if views is None else DayViews.from_state(views)

    def save_state(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`state_dict` to ``path`` (a safetensors file), atomically."""
        save_tree(Path(path), self.state_dict(), STATE_KIND)

    def load_state(self, path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, Any]]:
        """Continue from a file written by :meth:`save_state`; the observation and info there.

        Nothing in the file is executed (it is parsed as safetensors, never unpickled).

        Returns:
            The observation at the saved point and an info with the keys every step has.

        Raises:
            FileNotFoundError: If ``path`` does not exist.
            replay_gym.statefile.StateFileError: If it is not an environment state file.
            ValueError: If it comes from another replay-gym version or configuration.
        """
        self.load_state_dict(load_tree(Path(path), STATE_KIND))
        return self._observation(), self._info()

    def day_activations(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The activations at ``layer`` that a sampler there is fitted to after the last real day.

        With ``sampler.fit_on="augmented"``: the last real day's training images as that day
        augmented them; with ``"clean"``: the training images as they are. Returns
        ``(activations, labels)``.
        """
        if self.learner is None or self.day_views is None:
            raise gym.error.ResetNeeded("call reset() before day_activations()")
        images, labels = self._day_images(min(self.day, self.config.n_real_days))
        if self.config.sampler.fit_on == "augmented":
            return self.learner.view_activations(images, labels, self.day_views, layer)
        return self.learner.activations(images, layer), labels

    # -- internals ------------------------------------------------------------------------

    def _train_replay(self, samples: torch.Tensor, labels: torch.Tensor) -> float:
        """One optimiser step on a replay batch, with the sampler's soft targets if it has any."""
        targets = self.sampler.replay_targets(samples, labels)
        return self.learner.train_above(samples, labels, self.layer, self._night_gen, targets)

    def _replay(
        self, samples: torch.Tensor, labels: torch.Tensor
    ) -> tuple[np.ndarray, float, bool, bool, dict]:
        chi2_before = self._chi2
        self._train_replay(samples, labels)
        self._evaluate_validation()
        reward = chi2_before - self._chi2
        self._night_counts += np.bincount(labels.cpu().numpy(), minlength=self.n_classes)
        self.night_step += 1
        info = self._info()
        terminated = False
        if self.night_step >= self.night_length:
            terminated = self._finish_night(info)
        return self._observation(), float(reward), terminated, False, info

    def _start_day(self) -> dict[str, Any]:
        """Train the next day, refit the sampler, cache the night's inputs; the day's summary."""
        self.day += 1
        chi2_before = self._chi2
        real = self.day <= self.config.n_real_days
        if real:
            self.sampler.before_day()
            images, labels = self._day_images(self.day)
            views = self.learner.draw_views(len(images), self._day_gen)
            loss = self.learner.train_day(images, labels, self._day_gen, views)
            self.day_views = views
            train_acts, train_labels = self.day_activations(self.layer)
            self._fit_sampler(train_acts, train_labels, loss)
            del train_acts
        else:
            loss = self._replay_day()
        # The part below the replay layer is frozen until the next real day: cache its output
        # for the images of the classes the scenario has shown.
        self.night_length = self.scenario.night_length(self.day)
        val_images, test_images = self._set_eval_labels()
        self._val_acts = self.learner.activations(val_images, self.layer)
        self._test_acts = self.learner.activations(test_images, self.layer)
        self._evaluate_validation()
        self.night_step = 0
        self._night_counts = np.zeros(self.n_classes, dtype=np.int64)
        self._night_start_accuracy = class_accuracy(self._val_confusion)
        test = self._test_confusion()
        return {
            "day": self.day,
            "real_images": real,
            "loss": loss,
            "chi2": self._chi2,
            "chi2_drop": None if self.day == 1 else chi2_before - self._chi2,
            "class_accuracy": class_accuracy(self._val_confusion),
            "val_accuracy": overall_accuracy(self._val_confusion),
            "test_accuracy": overall_accuracy(test),
            "test_class_accuracy": class_accuracy(test),
        }

    def _fit_sampler(self, activations: torch.Tensor, labels: torch.Tensor, loss: float) -> None:
        """Fit the sampler to the day's activations; a diverged learner is an error, not NaN."""
        try:
            self.sampler.fit(activations, labels, self.n_classes, self._sampler_gen)
        except LearnerDivergedError as err:
            names = [self.data.class_names[c] for c in err.classes]
            raise LearnerDivergedError(
                f"the learner diverged on day {self.day} (day loss {loss:.4g}): its block-"
                f"{self.layer} activations of class(es) {', '.join(names)} hold NaN or infinity, "
                "so the sampler refuses to fit them; lower learner.lr or raise learner.adam_eps",
                err.classes,
            ) from err

    def _replay_day(self) -> float:
        """A day without real images: one full night's worth of generated replay (continuous)."""
        samples, labels = self.night_samples()
        batch = self.config.learner.batch_size
        losses = []
        for i in range(0, len(labels), batch):
            x, y = samples[i : i + batch], labels[i : i + batch]
            losses.append(self._train_replay(self.sampler.finish_batch(x, y), y))
        return float(np.mean(losses))

    def _finish_night(self, info: dict[str, Any]) -> bool:
        """Close the night into ``info``; start the next day unless the course is over."""
        test = self._test_confusion()
        night = {
            "day": self.day,
            "steps": self.night_step,
            "replay_counts": self._night_counts.copy(),
            "chi2": self._chi2,
            "class_accuracy": class_accuracy(self._val_confusion),
            "val_accuracy": overall_accuracy(self._val_confusion),
            "test_accuracy": overall_accuracy(test),
            "test_class_accuracy": class_accuracy(test),
            **self.scenario.night_summary(self.day, test),
        }
        info["night_end"] = night
        if self.day >= self.config.days:
            self._done = True
            info.update(_test_of(night))
            return True
        day_end = self._start_day()
        info.update(self._info(), **_test_of(day_end), day_end=day_end)
        return False

    def _evaluate_validation(self) -> None:
        predictions = self.learner.predict_from(self._val_acts, self.layer)
        self._val_confusion = confusion_matrix(
            self._val_labels.numpy(), predictions, self.n_classes
        )
        self._chi2 = chi_square(self._val_confusion)

    def _test_confusion(self) -> np.ndarray:
        predictions = self.learner.predict_from(self._test_acts, self.layer)
        return confusion_matrix(self._test_labels.numpy(), predictions, self.n_classes)

    def _day_images(self, day: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The training images and labels of the classes day ``day`` trains on."""
        return self._of_classes("train", self.scenario.train_classes(day))

    def _set_eval_labels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Keep the validation and test labels of the classes seen by now; their images."""
        seen = self.scenario.seen_classes(self.day)
        val_images, self._val_labels = self._of_classes("val", seen)
        test_images, self._test_labels = self._of_classes("test", seen)
        return val_images, test_images

    def _of_classes(
        self, split: str, classes: tuple[int, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)`` of ``split``, only of ``classes`` (all: the tensors as loaded)."""
        images, labels = self.data.split(split)
        if len(classes) == self.n_classes:
            return images, labels
        index = torch.isin(labels, torch.tensor(classes, dtype=labels.dtype)).nonzero().flatten()
        return images[index], labels[index]

    def _observation(self) -> np.ndarray:
        accuracy = class_accuracy(self._val_confusion)
        share = self._night_counts / max(1, self._night_counts.sum())
        night_progress = self.night_step / self.night_length
        course = (self.day - 1 + night_progress) / self.config.days
        return np.concatenate(
            [accuracy, accuracy - self._night_start_accuracy, share, [night_progress, course]]
        ).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        return {
            "chi2": self._chi2,
            "class_accuracy": class_accuracy(self._val_confusion),
            "day": self.day,
            "night_step": self.night_step,
            "action_mask": self.scenario.action_mask(self.day),
        }

    def _check_action(self, action: int | np.integer) -> int:
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        if isinstance(action, bool) or not isinstance(action, int | np.integer):
            raise ValueError(f"action must be an integer class index, got {action!r}")
        if not 0 <= action < self.n_classes:
            raise ValueError(f"action {action} is not a class index in 0..{self.n_classes - 1}")
        return int(action)

    def _check_seen(self, classes: list[int]) -> None:
        """Refuse classes the scenario has not shown yet (unseen: no generator, not tested)."""
        mask = self.scenario.action_mask(self.day)
        unseen = [c for c in classes if not mask[c]]
        if unseen:
            names = ", ".join(f"{c} ({self.data.class_names[c]})" for c in unseen)
            raise ValueError(
                f"class {names} has not been seen yet on day {self.day} of the "
                f"{self.scenario.name} scenario; valid actions are "
                f"{np.flatnonzero(mask).tolist()} (info['action_mask'], env.action_masks())"
            )

    def _check_reset(self) -> None:
        if self.learner is None:
            raise gym.error.ResetNeeded(
                "call reset() before step(), probe(), replay or saving the state"
            )

    def _check_running(self) -> None:
        self._check_reset()
        if self._done:
            raise gym.error.ResetNeeded("the course is over (terminated); call reset()")


def json_config(config: EnvConfig) -> Any:
    """``config`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(config_to_dict(config)))


def _test_of(summary: dict[str, Any]) -> dict[str, Any]:
    """The test-set entries of a day or night summary, for the top level of ``info``."""
    return {key: summary[key] for key in ("test_accuracy", "test_class_accuracy")}
