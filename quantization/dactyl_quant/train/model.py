"""The student as trained: packed frames through the encoder, a masked temporal head, the KD head.

A batch holds clips of different lengths. Frames are packed ([N, 3, H, W], N the sum of the
lengths), so the encoder never sees padding (nor does its BatchNorm); the features are then padded
to [B, T_max, F] with zeros for the temporal head, whose conv1d outputs are masked back to zero
past each clip's end (so the next conv1d sees the same zero padding as for the clip alone) and
whose GRU runs on a packed sequence (so the backward direction starts at the clip's true end). The
result equals running `Student` on each clip alone (`test_train_model`), i.e. what the board does.

The KD head (a small MLP from the per-frame feature to the teacher's embedding) is used only in
training: it is not part of `Student`'s state_dict, so it is neither in `best.pt` nor exported.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from ..student import Student, StudentConfig, TemporalHead

KD_LOSSES = ("mse", "cosine", "l1", "smooth-l1")


class KDHead(nn.Module):
    """feature [N, F] → predicted standardised teacher embedding [N, D]."""

    def __init__(self, feature_dim: int, teacher_dim: int, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, teacher_dim))
        # The training set's per-dimension statistics of the teacher's embedding (teacher.teacher_stats).
        self.register_buffer("teacher_mean", torch.zeros(teacher_dim))
        self.register_buffer("teacher_std", torch.ones(teacher_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    def target(self, teacher: torch.Tensor) -> torch.Tensor:
        return (teacher.float() - self.teacher_mean) / self.teacher_std


def head_forward(head: TemporalHead, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`TemporalHead.forward` over zero-padded features [B, T, F] of clips of `lengths` frames."""
    steps = features.shape[1]
    mask = (torch.arange(steps, device=features.device)[None, :] < lengths.to(features.device)[:, None])
    mask = mask[:, None, :].to(features.dtype)
    x = features.transpose(1, 2) * mask
    for layer in head.convs:
        x = torch.relu(layer(x)) * mask.to(x.dtype)
    packed = pack_padded_sequence(x.transpose(1, 2), lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = head.gru(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)
    return torch.log_softmax(head.classifier(out), dim=-1)


class TrainModel(nn.Module):
    def __init__(self, student: Student, kd_head: KDHead | None = None):
        super().__init__()
        self.student = student
        self.kd_head = kd_head

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor,
                kd_only: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Packed normalised frames [N, 3, H, W] of clips of `lengths` (CPU int64) frames →
        log-probabilities [B, T_max, C] and, with a KD head, predictions [N + kd_only, D]. The
        `kd_only` frames after sum(lengths) (KD-only clips) get KD predictions only; frames past
        those (shape padding, see `pad_frames`) go through the encoder and are then dropped."""
        labelled = int(lengths.sum())
        features = self.student.encoder(frames)[:labelled + kd_only]
        predicted = self.kd_head(features) if self.kd_head is not None else None
        features = features[:labelled]
        # The head runs in fp32 even under autocast: it costs <1 % of the encoder, the board runs it
        # in fp32, and GRUs are where bf16 rounding accumulates.
        with torch.autocast(device_type=features.device.type, enabled=False):
            padded = pad_sequence(features.float().split(lengths.tolist()), batch_first=True)
            log_probs = head_forward(self.student.head, padded, lengths)
        return log_probs, predicted


def kd_loss(kind: str, predicted: torch.Tensor, target: torch.Tensor,
            mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over (masked-in) frames of the distance between the KD head's output and the
    standardised target; 0 (still connected to the graph) when the mask leaves no frame."""
    predicted = predicted.float()
    if mask is not None:
        if not bool(mask.any()):
            return predicted.sum() * 0.0
        predicted, target = predicted[mask], target[mask]
    if kind == "mse":
        return F.mse_loss(predicted, target)
    if kind == "l1":
        return F.l1_loss(predicted, target)
    if kind == "smooth-l1":
        return F.smooth_l1_loss(predicted, target)
    if kind == "cosine":
        return (1 - F.cosine_similarity(predicted, target, dim=-1, eps=1e-6)).mean()
    raise ValueError(f"KD loss {kind!r}: expected one of {', '.join(KD_LOSSES)}")


def ctc_loss(log_probs: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor,
             target_lengths: torch.Tensor) -> torch.Tensor:
    """CTC (blank 0) averaged over clips, each clip's loss divided by its letter count."""
    return F.ctc_loss(log_probs.float().transpose(0, 1), targets, lengths, target_lengths, blank=0,
                      reduction="mean", zero_infinity=True)


@torch.no_grad()
def macs_per_frame(config: StudentConfig) -> tuple[int, int]:
    """Multiply-accumulates per frame: (encoder, temporal head), counted on the PyTorch modules."""
    student = Student(config).eval()
    encoder = 0

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal encoder
        kh, kw = module.kernel_size
        encoder += output.numel() * (module.in_channels // module.groups) * kh * kw

    hooks = [m.register_forward_hook(count) for m in student.encoder.modules() if isinstance(m, nn.Conv2d)]
    student.encoder(torch.zeros(1, 3, config.input_height, config.input_width))
    for hook in hooks:
        hook.remove()
    head = 0
    channels = config.feature_dim
    for out_channels, kernel in config.temporal:
        head += channels * out_channels * kernel
        channels = out_channels
    hidden = config.gru_hidden
    head += 2 * 3 * hidden * (channels + hidden)  # two directions, three gates, input and hidden products
    head += 2 * hidden * config.num_classes
    return encoder, head


def pad_frames(frames: torch.Tensor, multiple: int) -> torch.Tensor:
    """Packed frames padded to a multiple of `multiple` by repeating the last frame.

    Every batch packs a different number of frames; on CUDA each new shape costs cuDNN plan
    searches, which made the first epochs 2-3x slower than later ones (H100, pi config). Rounding
    N up gives few distinct shapes. The repeats are real frames, so the BatchNorm statistics barely
    move (< 1/10 of a batch of clips' frames), and `TrainModel` drops their outputs.
    """
    extra = -len(frames) % multiple
    if extra == 0:
        return frames
    return torch.cat([frames, frames[-1:].expand(extra, *frames.shape[1:])])
