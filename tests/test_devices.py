import pytest
import torch

from replay_gym.devices import available_devices, check_device


def test_available_devices_match_torch():
    names = available_devices()
    assert names[:2] == ["auto", "cpu"]
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert [n for n in names if n.startswith("cuda:")] == [f"cuda:{i}" for i in range(gpus)]


@pytest.mark.parametrize("name", ["auto", "cpu", "cpu:0"])
def test_devices_every_machine_has(name):
    check_device(name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("gpu", "is not a device replay-gym can use"),
        ("meta", "is not a device replay-gym can use"),
        ("cuda:64", "CUDA is not available|names a GPU beyond the"),
    ],
)
def test_missing_devices_are_refused_with_those_that_exist(name, why):
    message = rf"learner.device='{name}' .*({why}).*devices here: auto, cpu"
    with pytest.raises(ValueError, match=message):
        check_device(name, "learner.device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_says_so():
    with pytest.raises(ValueError, match="CUDA is not available here; devices here: auto, cpu$"):
        check_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_present_gpus_are_accepted():
    check_device("cuda")
    check_device(f"cuda:{torch.cuda.device_count() - 1}")
