"""The Trainer's fast paths: mixed precision, channels-last memory, a compiled backbone."""

import dataclasses

import torch

from dreamer.engine.networks.backbones import BACKBONES
from dreamer.photos.data import DreamDataModule
from tests.conftest import make_photo, run_dream, tiny_model, tiny_octaves

THREE = tiny_octaves(count=3, scale=1.3, iterations=4)  # 12 steps over 3 sizes


def test_bf16_mixed_precision_runs_on_cpu_without_nans(tmp_path, photo):
    target = tmp_path / "bf16.png"
    model = tiny_model()
    run_dream(model, DreamDataModule(images=str(photo), output=str(target)), precision="bf16-mixed")
    assert torch.isfinite(model.image).all()
    assert target.is_file()
    assert model.image.dtype == torch.float32  # the image and its normalised step stay fp32


def test_channels_last_gives_the_same_dream(tmp_path, photo):
    plain, last = tiny_model(channels_last=False), tiny_model(channels_last=True)
    for model, name in ((plain, "a.png"), (last, "b.png")):
        run_dream(model, DreamDataModule(images=str(photo), output=str(tmp_path / name)))
    assert (plain.image - last.image).abs().max() < 0.05


def test_channels_last_auto_follows_the_backbone(monkeypatch):
    assert tiny_model().objective.extractor.memory_format == torch.channels_last
    monkeypatch.setitem(
        BACKBONES, "mobilenet_v2", dataclasses.replace(BACKBONES["mobilenet_v2"], channels_last_faster=False)
    )
    assert tiny_model().objective.extractor.memory_format == torch.contiguous_format


def test_compiled_backbone_is_not_recompiled_every_step(tmp_path, monkeypatch):
    """dynamic=True: a size change may cost a recompile when it crosses one of the compiler's
    shape guards, never one per step, and a second photo of the same size costs none."""
    from torch._dynamo.testing import CompileCounter

    import dreamer.engine.networks.extractor

    counter = CompileCounter()
    real_compile = torch.compile
    monkeypatch.setattr(
        dreamer.engine.networks.extractor.torch, "compile", lambda m, **kw: real_compile(m, backend=counter, **kw)
    )
    torch._dynamo.reset()
    model = tiny_model(compile=True)
    first, second = make_photo(tmp_path / "a.png", seed=1), make_photo(tmp_path / "b.png", seed=2)
    run_dream(model, DreamDataModule(images=str(first), output=str(tmp_path / "a-out.png")), THREE)
    compiled = counter.frame_count
    assert 1 <= compiled <= 3  # 12 steps over 3 sizes
    run_dream(model, DreamDataModule(images=str(second), output=str(tmp_path / "b-out.png")), THREE)
    assert counter.frame_count == compiled


def test_reduce_overhead_compiles_each_octave_size_once_with_fixed_shapes(tmp_path, monkeypatch):
    """``compile: reduce-overhead`` (CUDA graphs on a GPU) needs fixed shapes: one compiled frame per
    octave size, none per step, and a second photo of the same size costs none."""
    from torch._dynamo.testing import CompileCounter

    import dreamer.engine.networks.extractor

    counter, settings = CompileCounter(), []
    real_compile = torch.compile

    def counting(module, **kwargs):
        settings.append(dict(kwargs))
        kwargs.pop("mode")  # the counting backend takes no mode
        return real_compile(module, backend=counter, **kwargs)

    monkeypatch.setattr(dreamer.engine.networks.extractor.torch, "compile", counting)
    torch._dynamo.reset()
    model = tiny_model(compile="reduce-overhead")
    first, second = make_photo(tmp_path / "a.png", seed=1), make_photo(tmp_path / "b.png", seed=2)
    run_dream(model, DreamDataModule(images=str(first), output=str(tmp_path / "a-out.png")), THREE)
    assert settings == [{"mode": "reduce-overhead", "dynamic": False}]
    assert counter.frame_count == 3  # 12 steps over 3 sizes
    run_dream(model, DreamDataModule(images=str(second), output=str(tmp_path / "b-out.png")), THREE)
    assert counter.frame_count == 3
