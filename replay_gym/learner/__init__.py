"""The learner: VGG-16, its day and night training, starting weights, augmentation, pretraining."""
