"""Letter accuracy, the batched training model, KD losses, batches and augmentation, the schedule."""

import math

import numpy as np
import pytest
import torch

from dactyl_quant.preprocess import normalise
from dactyl_quant.student import CONFIGS, Student
from dactyl_quant.train.data import (Augment, EpochBatches, collate, min_ctc_frames, prepare_frames,
                                     speed_indices)
from dactyl_quant.train.runtime import learning_rate
from dactyl_quant.train.metrics import LetterCount, edit_distance, letter_accuracy
from dactyl_quant.train.model import KD_LOSSES, KDHead, TrainModel, kd_loss, macs_per_frame, pad_frames


def test_edit_distance_and_letter_accuracy_by_hand():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3 and edit_distance("", "") == 0
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    # Over the whole set: (1 + 0 + 2) edits / (4 + 3 + 1) letters, not the mean of per-clip ratios.
    pairs = [("abce", "abcd"), ("xyz", "xyz"), ("qq", "r")]
    assert edit_distance("qq", "r") == 2
    assert letter_accuracy(pairs) == pytest.approx(1 - 3 / 8)
    count = LetterCount()
    count.add("aaaa", "b")  # insertions can push it below 0
    assert count.accuracy == -3.0
    assert math.isnan(LetterCount().accuracy)


def test_batched_masked_forward_equals_each_clip_alone():
    torch.manual_seed(0)
    student = Student(CONFIGS["tiny"]).eval()
    clips = [torch.randn(n, 3, 24, 32) for n in (5, 9, 3)]
    log_probs, predicted = TrainModel(student)(torch.cat(clips), torch.tensor([5, 9, 3]))
    assert predicted is None and log_probs.shape == (3, 9, 32)
    for row, clip in enumerate(clips):
        torch.testing.assert_close(log_probs[row, :len(clip)], student(clip[None])[0], atol=1e-5, rtol=1e-5)


def test_shape_padding_frames_are_dropped():
    torch.manual_seed(2)
    model = TrainModel(Student(CONFIGS["tiny"]), KDHead(16, 3)).eval()
    frames = torch.randn(9, 3, 24, 32)
    padded = pad_frames(frames, 8)
    assert padded.shape[0] == 16 and torch.equal(padded[9:], frames[-1:].expand(7, -1, -1, -1))
    assert pad_frames(frames[:8], 8).shape[0] == 8
    lengths = torch.tensor([4, 5])
    plain, plain_kd = model(frames, lengths)
    padded_lp, padded_kd = model(padded, lengths)
    torch.testing.assert_close(padded_lp, plain)
    assert padded_kd.shape == plain_kd.shape == (9, 3)


@pytest.mark.parametrize("kind", KD_LOSSES)
def test_kd_loss_decreases_when_overfitting(kind):
    torch.manual_seed(1)
    config = CONFIGS["tiny"]
    student = Student(config)
    head = KDHead(config.feature_dim, 5, hidden=32)
    frames = torch.randn(12, 3, 24, 32)
    teacher = torch.randn(12, 5) * 3 + 1
    head.teacher_mean.copy_(teacher.mean(0))
    head.teacher_std.copy_(teacher.std(0))
    model = TrainModel(student, head)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        _, predicted = model(frames, torch.tensor([7, 5]))
        loss = kd_loss(kind, predicted, head.target(teacher))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    with pytest.raises(ValueError, match="KD loss 'huber'"):
        kd_loss("huber", predicted, teacher)


def test_kd_head_is_not_part_of_the_student_state():
    student = Student(CONFIGS["tiny"])
    model = TrainModel(student, KDHead(16, 4))
    assert set(student.state_dict()) == {k[len("student."):] for k in model.state_dict() if k.startswith("student.")}
    assert any(k.startswith("kd_head.") for k in model.state_dict())


def test_pi_config_is_deployable():
    config = CONFIGS["pi"]
    encoder, head = macs_per_frame(config)
    assert encoder <= 100_000_000 and head < 1_000_000
    assert config.default_crop == (0, 0, 1000, 1000) and config.input_height == config.input_width == 96
    assert macs_per_frame(CONFIGS["tiny"])[0] == 324_096  # hand count: stem 12·16·8·147 + 4 convs 12·16·8·72 + ...


def test_prepare_without_augmentation_is_the_float_models_input():
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (7, 24, 32, 3), dtype=np.uint8)
    config = CONFIGS["tiny"]
    x = prepare_frames(torch.from_numpy(frames), torch.tensor([4, 3]), config.mean, config.std)
    expected = np.stack([normalise(f, config.mean, config.std) for f in frames])
    assert np.array_equal(x.numpy(), expected)  # bit for bit
    torch.manual_seed(0)
    augmented = prepare_frames(torch.from_numpy(frames), torch.tensor([4, 3]), config.mean, config.std, Augment())
    assert augmented.shape == x.shape and not torch.equal(augmented, x)
    low = (0 - np.array(config.mean)) / np.array(config.std)
    high = (1 - np.array(config.mean)) / np.array(config.std)
    for c in range(3):
        assert augmented[:, c].min() >= low[c] - 1e-5 and augmented[:, c].max() <= high[c] + 1e-5


def test_speed_jitter_keeps_clips_alignable():
    assert min_ctc_frames((1, 1, 2)) == 4
    fast = speed_indices(30, 4, 0.2, 1.0)  # 1.2x faster: frames dropped
    slow = speed_indices(30, 4, 0.2, 0.0)  # 1.2x slower: frames repeated
    assert len(fast) == 25 and len(slow) == 36
    assert np.all(np.diff(fast) >= 1) and np.all(np.diff(slow) >= 0) and slow.max() == 29
    assert len(speed_indices(5, 5, 0.2, 1.0)) == 5  # never below what CTC needs
    assert np.array_equal(speed_indices(10, 1, 0.2, 0.5), np.arange(10))


def test_epoch_batches_shard_and_resume():
    ranks = [EpochBatches(10, 2, rank, 2, seed=4) for rank in range(2)]
    for sampler in ranks:
        sampler.set_epoch(3)
    assert ranks[0].steps == ranks[1].steps == 3  # 10 clips / (2 x 2), wrapped round to 12
    seen = sorted(i for sampler in ranks for batch in sampler for i in batch)
    assert set(seen) == set(range(10)) and len(seen) == 12
    again = EpochBatches(10, 2, 0, 2, seed=4)
    again.set_epoch(3, start=1)
    assert list(again) == list(ranks[0])[1:] and len(again) == 2
    other = EpochBatches(10, 2, 0, 2, seed=4)
    other.set_epoch(4)
    assert list(other) != list(ranks[0])
    evaluation = [EpochBatches(5, 2, rank, 2, shuffle=False) for rank in range(2)]
    assert [list(s) for s in evaluation] == [[[0, 2], [4]], [[1, 3]]]


def test_collate_packs_frames():
    items = [{"index": 0, "frames": torch.zeros(3, 2, 2, 3, dtype=torch.uint8), "labels": torch.tensor([1, 2]),
              "teacher": torch.ones(3, 4), "teacher_mask": torch.tensor([True, False, True])},
             {"index": 1, "frames": torch.ones(2, 2, 2, 3, dtype=torch.uint8), "labels": torch.tensor([5]),
              "teacher": torch.zeros(2, 4), "teacher_mask": torch.tensor([True, True])}]
    batch = collate(items)
    assert batch["frames"].shape == (5, 2, 2, 3) and batch["lengths"].tolist() == [3, 2]
    assert batch["targets"].tolist() == [1, 2, 5] and batch["target_lengths"].tolist() == [2, 1]
    assert batch["teacher"].shape == (5, 4)
    assert batch["teacher_mask"].tolist() == [True, False, True, True, True]
    items[1]["teacher"] = items[1]["teacher_mask"] = None
    assert collate(items)["teacher"] is None and collate(items)["teacher_mask"] is None


def test_kd_loss_only_on_frames_where_the_teacher_saw_a_hand():
    predicted = torch.tensor([[1.0, 0.0], [5.0, 5.0], [0.0, 2.0]], requires_grad=True)
    target = torch.zeros(3, 2)
    mask = torch.tensor([True, False, True])
    assert kd_loss("mse", predicted, target, mask).item() == pytest.approx((1 + 4) / 4)
    none = kd_loss("mse", predicted, target, torch.zeros(3, dtype=torch.bool))
    none.backward()
    assert none.item() == 0.0 and torch.equal(predicted.grad, torch.zeros(3, 2))


def test_learning_rate_warmup_then_cosine():
    rates = [learning_rate(step, 100, 1.0, 0.1) for step in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))
    assert rates[-1] == pytest.approx(0.02, abs=1e-3)
