"""VGG-16 with the paper's head, split at any of its five max-pools.

The conv base follows torchvision's ``vgg16().features`` layer for layer (configuration "D":
13 convs in 5 blocks, each block ending in a 2x2 max-pool), so ImageNet state dicts load
directly. Only the channel widths and input size are free, which gives the scaled model of the
embedded default every replay location of the paper.
"""

from __future__ import annotations

import math

import torch
from torch import nn

CONVS_PER_BLOCK = (2, 2, 3, 3, 3)
"""VGG-16 configuration "D"."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG16(nn.Module):
    """VGG-16 base, then Flatten -> hidden ReLU -> Dropout -> hidden ReLU -> Dropout -> classes.

    Inputs are RGB images in [0, 1]; the ImageNet normalisation torchvision's weights expect is a
    fixed buffer inside the model. There is no adaptive pooling: as in the paper's Keras model,
    the head reads the flattened block-5 pool output.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (64, 128, 256, 512, 512),
        input_size: int = 224,
        hidden: int = 4096,
        n_classes: int = 10,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if len(widths) != len(CONVS_PER_BLOCK):
            raise ValueError(f"widths must give 5 blocks, got {widths}")
        if input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32, got {input_size}")
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        layers: list[nn.Module] = []
        pool_index: list[int] = []
        channels = 3
        for width, convs in zip(widths, CONVS_PER_BLOCK, strict=True):
            for _ in range(convs):
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                channels = width
            pool_index.append(len(layers))
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.pool_index = tuple(pool_index)
        side = input_size // 32
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * side * side, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of the whole network."""
        return self.head(self.features(self.normalize(images)))

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet normalisation of [0, 1] images."""
        return (images - self.mean) / self.std

    def below(self, layer: int) -> nn.Sequential:
        """The conv layers up to and including max-pool ``layer`` (1-5)."""
        return self.features[: self._cut(layer)]

    def above(self, layer: int) -> nn.Sequential:
        """Everything after max-pool ``layer``: the network trained at night."""
        return nn.Sequential(*self.features[self._cut(layer) :], self.head)

    def activations(self, images: torch.Tensor, layer: int) -> torch.Tensor:
        """Output of max-pool ``layer`` for [0, 1] images."""
        return self.below(layer)(self.normalize(images))

    def forward_from(self, activations: torch.Tensor, layer: int) -> torch.Tensor:
        """Logits from activations at max-pool ``layer`` (the truncated network's input)."""
        return self.above(layer)(activations)

    def parameters_above(self, layer: int) -> list[nn.Parameter]:
        """Parameters that night-time replay at ``layer`` trains."""
        return list(self.above(layer).parameters())

    def _cut(self, layer: int) -> int:
        if not 1 <= layer <= len(self.pool_index):
            raise ValueError(f"layer must be 1-5 (a max-pool block), got {layer}")
        return self.pool_index[layer - 1] + 1


def init_head(model: VGG16, generator: torch.Generator) -> None:
    """Glorot-uniform weights and zero biases for the head, as Keras' Dense defaults.

    The authors built the head in Keras, so its initialisation is theirs; the generator keeps
    every episode's initial head a function of the episode seed.
    """
    for module in model.head:
        if isinstance(module, nn.Linear):
            _glorot_uniform_(module.weight, generator)
            nn.init.zeros_(module.bias)


def init_features(model: VGG16, generator: torch.Generator) -> None:
    """Torchvision's VGG initialisation of the conv base (He normal, fan-out; zero bias)."""
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(
                module.weight, mode="fan_out", nonlinearity="relu", generator=generator
            )
            nn.init.zeros_(module.bias)


def _glorot_uniform_(weight: torch.Tensor, generator: torch.Generator) -> None:
    fan_out, fan_in = weight.shape
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        values = torch.rand(weight.shape, generator=generator) * 2 * limit - limit
        weight.copy_(values.to(weight.device))
