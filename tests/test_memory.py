"""The memory accountant (helpers.memory): byte counts checked against hand-computed values."""
import pytest
import torch
import torchvision
from torch import nn

from helpers import memory

CUDA = torch.cuda.is_available()


def small_cnn(inplace: bool = True, device: str = "cpu") -> nn.Module:
    torch.manual_seed(0)
    with torch.device(device):
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=inplace),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


def batch(n: int, device: str = "cpu"):
    g = torch.Generator().manual_seed(n)
    x, y = torch.rand(n, 3, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)
    return x.to(device), y.to(device)


def test_tensor_bytes_and_storage_keys():
    t = torch.zeros(3, 4, dtype=torch.float64)
    assert memory.tensor_bytes(t) == 96
    assert memory.tensor_bytes(torch.zeros(5, dtype=torch.float16)) == 10
    assert memory.storage_key(t) == memory.storage_key(t.t()) == memory.storage_key(t[1])
    assert memory.storage_key(t) != memory.storage_key(t.clone())
    m = torch.empty(4, 4, device="meta")
    assert memory.storage_key(m) == memory.storage_key(m.view(16))
    assert memory.storage_key(m) != memory.storage_key(torch.empty(4, 4, device="meta"))


def test_parameters_buffers_and_gradients():
    model = small_cnn()
    n_params = sum(p.numel() for p in model.parameters())
    assert memory.parameter_bytes(model) == 4 * n_params
    assert memory.buffer_bytes(model) == 4 * 8 * 2 + 8  # running mean and var, int64 batch counter
    assert memory.gradient_bytes(model) == 0
    model[0].weight.requires_grad_(False)
    x, y = batch(4)
    nn.functional.cross_entropy(model(x), y).backward()
    assert memory.gradient_bytes(model) == 4 * (n_params - model[0].weight.numel())
    assert memory.parameter_bytes(model) == 4 * n_params  # frozen weights still take memory


@pytest.mark.parametrize("make, ratio", [
    (lambda p: torch.optim.SGD(p, lr=0.1), 0.0),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 1.0),
    (lambda p: torch.optim.Adam(p), 2.0),
    (lambda p: torch.optim.Adam(p, amsgrad=True), 3.0),
    (lambda p: torch.optim.RMSprop(p, momentum=0.9), 2.0),
])
def test_optimizer_state_follows_the_optimizer(make, ratio):
    model = small_cnn()
    opt = make(model.parameters())
    assert memory.optimizer_state_bytes(opt) == 0, "state is created by the first step"
    report = memory.account_step(model, opt, *batch(4))
    # Adam-like optimizers add a 4-byte step counter per parameter tensor: 24 bytes here.
    assert report.ratio("optimizer_state") == pytest.approx(ratio, abs=0.01)
    assert report.gradients == report.parameters


def test_saved_tensors_match_a_hand_count():
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU())
    x = torch.rand(6, 5)
    # Linear saves its input (its weight is a parameter: left out); ReLU saves its output.
    got = memory.saved_tensor_bytes(model, x, None, loss_fn=lambda out, _: out.sum())
    assert got == 4 * (6 * 5 + 6 * 7)


def test_each_storage_counts_once():
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    x = torch.rand(6, 5)
    # ReLU saves its output and the second Linear saves the same tensor as its input: counted once.
    got = memory.saved_tensor_bytes(model, x, None, loss_fn=lambda out, _: out.sum())
    assert got == 4 * (6 * 5 + 6 * 7)


def test_meta_device_counts_the_same_bytes_as_cpu():
    for n in (2, 5):
        cpu = memory.saved_tensor_bytes(small_cnn(), *batch(n))
        meta = memory.saved_tensor_bytes(small_cnn(device="meta"), *batch(n, "meta"))
        assert cpu == meta


def test_activations_grow_linearly_with_batch_size():
    with torch.device("meta"):
        model = torchvision.models.resnet18(num_classes=10)
    sizes = [4, 16, 64, 256]
    got = [memory.saved_tensor_bytes(model, torch.empty(b, 3, 32, 32, device="meta"),
                                     torch.zeros(b, dtype=torch.long, device="meta")) for b in sizes]
    slope = (got[-1] - got[0]) / (sizes[-1] - sizes[0])
    for b, g in zip(sizes, got):
        assert g == pytest.approx(got[0] + slope * (b - sizes[0]), rel=1e-3)
    assert slope > 3 * 32 * 32 * 4  # more than the input image itself


def test_account_step_on_cpu_and_meta():
    for device in ("cpu", "meta"):
        model = small_cnn(device=device)
        report = memory.account_step(model, torch.optim.Adam(model.parameters()), *batch(8, device))
        assert report.batch_size == 8 and report.device == device
        assert report.predicted_peak == (report.parameters + report.buffers + report.gradients
                                         + report.optimizer_state + report.activations)
        assert report.cuda_peak is None and report.prediction_error is None and report.measured_peak is None
        assert "predicted peak" in str(report)
    table = memory.reports_table({"a": report, "bb": report})
    assert "optimizer state" in table and "bb" in table
    assert memory.memory_bars({"a": report}, title="t") is not None


def test_probe_records_out_of_memory_and_stops():
    calls = []

    def run(bs):
        calls.append(bs)
        if bs > 8:
            raise memory.SimulatedOutOfMemory(f"batch {bs} needs more than the budget")
        return bs * 10

    results = memory.probe_batch_sizes(run, [2, 4, 8, 16, 32])
    assert calls == [2, 4, 8, 16]
    assert [r["fits"] for r in results] == [True, True, True, False]
    assert results[2]["result"] == 80 and "SimulatedOutOfMemory" in results[3]["error"]
    with pytest.raises(ValueError):
        memory.probe_batch_sizes(lambda bs: (_ for _ in ()).throw(ValueError("a bug")), [1])


def _meta_resnet18_step(b):
    import torchvision
    with torch.device("meta"):
        net = torchvision.models.resnet18(weights=None, num_classes=10)
        x, y = torch.empty(b, 3, 32, 32), torch.zeros(b, dtype=torch.long)
    return memory.account_step(net, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), x, y)


class FakeGPU:
    """A GPU with ``free`` bytes whose kernels fail like cuDNN's past 32-bit indexing: no CUDA needed."""

    def __init__(self, free):
        self.free, self.ran = free, []

    def run(self, b):
        self.ran.append(b)
        report = _meta_resnet18_step(b)
        if report.largest_tensor > 2**31 - 1:
            raise RuntimeError("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED. This error may appear if you passed in "
                               "a non-contiguous input.")
        if report.predicted_peak > self.free:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")
        return report


SIZES = [256 * 2**k for k in range(10)]  # 256 ... 131,072, as 07 probes


def test_probe_on_a_large_gpu_stops_at_32_bit_indexing_without_running_it():
    gpu = FakeGPU(free=139 * memory.GiB)  # an H200: memory would outlast 2^31 elements
    rows = memory.probe_batch_sizes(gpu.run, SIZES, predict=_meta_resnet18_step, budget=gpu.free)
    assert [r["fits"] for r in rows] == [True] * 9 + [False]
    assert rows[-1]["batch_size"] == 131_072 and "32-bit" in rows[-1]["error"] and "not run" in rows[-1]["error"]
    assert gpu.ran == SIZES[:9]  # the failing size was never launched
    # Without the prediction, the same GPU's kernel error is a result, not a crash.
    gpu = FakeGPU(free=139 * memory.GiB)
    rows = memory.probe_batch_sizes(gpu.run, SIZES)
    assert rows[-1]["fits"] is False and "CUDNN_STATUS_NOT_SUPPORTED" in rows[-1]["error"]


def test_probe_is_bounded_by_free_memory_not_total():
    total, used_by_others = 16 * memory.GiB, 12 * memory.GiB
    gpu = FakeGPU(free=total - used_by_others)
    rows = memory.probe_batch_sizes(gpu.run, SIZES, predict=_meta_resnet18_step, budget=gpu.free)
    last = rows[-1]
    assert last["fits"] is False and "budget 4.00 GiB" in last["error"] and last["batch_size"] not in gpu.ran
    assert all(r["result"].predicted_peak <= gpu.free for r in rows[:-1])
    # On the simulated T4 the budget is the real figure less the context, under 15 GiB.
    assert 14.5 * memory.GiB < memory.T4_BUDGET < memory.T4_TOTAL < 15 * memory.GiB


def test_probe_time_is_bounded_and_other_errors_propagate():
    now = [0.0]

    def slow(b):
        now[0] += 40.0
        return b

    rows = memory.probe_batch_sizes(slow, [1, 2, 4, 8], seconds=100, clock=lambda: now[0])
    assert [r["fits"] for r in rows] == [True, True, True, None] and "time limit of 100 s" in rows[-1]["error"]
    with pytest.raises(ValueError):
        memory.probe_batch_sizes(lambda b: (_ for _ in ()).throw(ValueError("a bug in run")), [1])
    with pytest.raises(RuntimeError, match="shape"):
        memory.probe_batch_sizes(lambda b: (_ for _ in ()).throw(RuntimeError("shape mismatch")), [1])
    assert memory.is_cuda_error(RuntimeError("CUDA error: an illegal memory access was encountered"))
    assert memory.is_cuda_error(RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED when calling cublasSgemm"))


def test_out_of_memory_is_recognised():
    assert memory.is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert memory.is_out_of_memory(MemoryError())
    assert memory.is_out_of_memory(memory.SimulatedOutOfMemory("x"))
    assert not memory.is_out_of_memory(RuntimeError("shape mismatch"))


def test_train_for_seconds_records_accuracy_and_throughput():
    from helpers import Batches

    torch.manual_seed(0)
    x = torch.randn(256, 2)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    run = memory.train_for_seconds(model, torch.optim.SGD(model.parameters(), lr=0.5), Batches(x, y, 32),
                                   seconds=0.3, min_steps=40)
    assert run.steps >= 40 and run.images == 32 * run.steps
    assert len(run.seconds) == len(run.accuracy) >= 1
    assert run.accuracy[-1] > 0.8
    assert run.images_per_second > 0 and run.epoch_seconds(50000) > 0


@pytest.mark.skipif(CUDA, reason="checks the CPU path")
def test_no_gpu_info_without_cuda():
    assert memory.gpu_info() is None
    assert "Change runtime type" in memory.COLAB_GPU_STEPS


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_cuda_report_is_measured():
    model = small_cnn(device="cuda")
    report = memory.account_step(model, torch.optim.Adam(model.parameters()), *batch(64, "cuda"))
    assert report.cuda_total > report.cuda_reserved >= report.cuda_allocated > 0
    assert report.measured_peak >= report.parameters + report.optimizer_state
    assert report.prediction_error is not None
    info = memory.gpu_info()
    assert info["total"] == report.cuda_total and info["context"] >= 0
