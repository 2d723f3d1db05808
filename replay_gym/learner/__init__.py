"""The learner: the network that learns new classes by day and from replay by night.

* :mod:`~replay_gym.learner.vgg`: VGG-16 with configurable widths, split at any of its five
  max-pool blocks so that replayed activations can enter above the replay layer;
* :mod:`~replay_gym.learner.cortex`: :class:`~replay_gym.learner.cortex.Learner`, which trains
  that network on a day of images, on a night's replay batches, and evaluates it;
* :mod:`~replay_gym.learner.compiled`: ``torch.compile`` of the night's predictions above the
  replay layer (``learner.compile``);
* :mod:`~replay_gym.learner.augment`: the image augmentation of day training;
* :mod:`~replay_gym.learner.weights`: the conv base's starting weights (ImageNet, the shipped
  small base, a file or random), each read without running code from the file;
* :mod:`~replay_gym.learner.pretrain`: ``python -m replay_gym pretrain``, which makes the small
  base of the embedded default.
"""
