import pytest
import torch

from replay_gym import devices
from replay_gym.devices import available_devices, check_compile, check_device, compile_unavailable


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


@pytest.fixture
def fresh_compile_check():
    """Forget the cached compile checks before and after the test."""
    devices._compile_unavailable.cache_clear()
    yield
    devices._compile_unavailable.cache_clear()


def test_compile_check_finds_the_cpu_compiler_or_names_it(fresh_compile_check):
    import shutil

    from torch._inductor import config

    names = config.cpp.cxx if isinstance(config.cpp.cxx, tuple) else (config.cpp.cxx,)
    found = any(name and shutil.which(name) for name in names)
    why = compile_unavailable("cpu")
    assert (why is None) == found, why
    assert compile_unavailable("auto") == compile_unavailable(
        "cuda" if torch.cuda.is_available() else "cpu"
    )


def test_compile_without_a_cpp_compiler_is_refused(monkeypatch, fresh_compile_check):
    from torch._inductor import cpp_builder

    def missing():
        raise RuntimeError("no working C++ compiler found in ('g++',)")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", missing)
    assert "needs a C++ compiler" in compile_unavailable("cpu")
    with pytest.raises(
        ValueError,
        match=r"learner\.compile=True but torch\.compile on the CPU "
        r"needs a C\+\+ compiler .*; set learner\.compile=False here",
    ):
        check_compile(True, "cpu")
    check_compile(False, "cpu")  # off: nothing to check


def test_compile_is_refused_where_dynamo_is_not_supported(monkeypatch, fresh_compile_check):
    import torch._dynamo

    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    assert compile_unavailable("cpu").startswith("torch.compile does not support Python 3.")


def test_compile_needs_cpu_or_cuda(fresh_compile_check):
    why = devices._compile_unavailable("mps")
    assert why == "replay-gym compiles only on cpu and cuda, not on mps"
