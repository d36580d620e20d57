"""A `train fit --init` checkpoint from a model file, to fine-tune a shipped model (no PyTorch
checkpoint of it is kept).

The int8 encoder is dequantised (weights = int8 x per-channel scale, bias = i32 x input scale x
weight scale) and the f32 head taken as it is, into a Student whose BatchNorms are "unfolded": each
BN gets the running mean and variance of its convolution's output over frames of DATA's train split,
and the affine parameters that make it the identity plus the folded bias on those statistics, so the
student computes the model file's function (within int8 rounding) in eval mode and nearly so in
train mode. The KD head for TEACHER is new (seeded), its target statistics from DATA's teacher files.

    python scripts/dmdl_to_init.py --model ../models/default.dmdl --config pi64 --data DATA \
        --cache CACHE --teacher mediapipe --out init.pt
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dactyl_quant.export import BiGRUF32, Conv1dF32, Conv2dQ8, LinearF32, read_model  # noqa: E402
from dactyl_quant.student import CONFIGS, ConvBN, Student  # noqa: E402
from dactyl_quant.train.config import DataOptions  # noqa: E402
from dactyl_quant.train.data import prepare_frames  # noqa: E402
from dactyl_quant.train.model import KDHead  # noqa: E402
from dactyl_quant.train.pretrain import PRETRAIN_FORMAT  # noqa: E402
from dactyl_quant.train.runtime import init_distributed, prepare_data  # noqa: E402
from dactyl_quant.train.teacher import teacher_stats  # noqa: E402


def encoder_convs(student: Student) -> list[ConvBN]:
    """The encoder's ConvBNs in the model file's op order (graph.lower_encoder)."""
    convs = [student.encoder.stem]
    for stage in student.encoder.stages:
        for block in stage:
            convs.append(block.conv1)
            if block.downsample is not None:
                convs.append(block.downsample)
            convs.append(block.conv2)
    return convs


def folded_student(model, config) -> tuple[Student, list[torch.Tensor]]:
    """The student with the file's dequantised weights; the folded biases (BN still to be set)."""
    student = Student(config)
    convs = encoder_convs(student)
    ops = [op for op in model.encoder_ops if isinstance(op, Conv2dQ8)]
    if len(ops) != len(convs):
        raise ValueError(f"{len(ops)} conv ops in the file, {len(convs)} convolutions in config {config.name}")
    biases = []
    for layer, op in zip(convs, ops):
        source, output = model.tensors[op.input].scale, model.tensors[op.output].scale
        real = op.multiplier.astype(np.float64) * np.exp2(-op.shift.astype(np.float64))
        weight_scale = real * output / source
        weight = op.weights.astype(np.float64).transpose(0, 3, 1, 2) * weight_scale[:, None, None, None]
        layer.conv.weight.data = torch.tensor(weight, dtype=torch.float32)
        biases.append(torch.tensor(op.bias.astype(np.float64) * source * weight_scale, dtype=torch.float32))
    head = student.head
    conv1d = [op for op in model.head_ops if isinstance(op, Conv1dF32)]
    for layer, op in zip(head.convs, conv1d):
        layer.conv.weight.data = torch.tensor(op.weights.transpose(0, 2, 1).copy())
        biases.append(torch.tensor(op.bias))
    gru = next(op for op in model.head_ops if isinstance(op, BiGRUF32))
    for direction, suffix in ((gru.forward, ""), (gru.backward, "_reverse")):
        for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
                               (direction.w_ih, direction.w_hh, direction.b_ih, direction.b_hh)):
            getattr(head.gru, f"{name}_l0{suffix}").data = torch.tensor(value)
    linear = next(op for op in model.head_ops if isinstance(op, LinearF32))
    head.classifier.weight.data = torch.tensor(linear.weights)
    head.classifier.bias.data = torch.tensor(linear.bias)
    return student, biases


@torch.no_grad()
def unfold_batchnorm(student: Student, biases: list[torch.Tensor], frames: torch.Tensor, lengths: torch.Tensor) -> None:
    """Each BN: running statistics of its conv's output on `frames`, affine = identity + bias on them."""
    layers = encoder_convs(student) + list(student.head.convs)
    stats = {}

    def hook(layer):
        def record(module, inputs, output):
            dims = (0, 2, 3) if output.dim() == 4 else (0, 2)
            stats[layer] = (output.mean(dim=dims), output.var(dim=dims, unbiased=False))
        return record

    for layer, bias in zip(layers, biases):  # identity BN for the statistics pass
        layer.bn.running_mean.zero_()
        layer.bn.running_var.fill_(1.0 - layer.bn.eps)
        layer.bn.weight.fill_(1.0)
        layer.bn.bias.copy_(bias)
    handles = [layer.conv.register_forward_hook(hook(layer)) for layer in layers]
    student.eval()
    features = student.encoder(frames)
    padded = torch.nn.utils.rnn.pad_sequence(features.split(lengths.tolist()), batch_first=True)
    student.head(padded)
    for handle in handles:
        handle.remove()
    for layer, bias in zip(layers, biases):
        mean, var = stats[layer]
        bn = layer.bn
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
        bn.bias.copy_(mean + bias)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--config", required=True, choices=sorted(CONFIGS))
    parser.add_argument("--data", required=True, help="corpus whose train split gives BN statistics and teacher stats")
    parser.add_argument("--cache")
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--kd-hidden", type=int, default=256)
    parser.add_argument("--clips", type=int, default=48, help="train clips for the BN statistics")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    config = CONFIGS[args.config]
    model = read_model(args.model)
    student, biases = folded_student(model, config)
    prepared = prepare_data(DataOptions(data=args.data, cache=args.cache, quiet=True), config, ("train",),
                            args.teacher, init_distributed("cpu"))
    items = prepared.items["train"]
    chosen = [items[i] for i in np.random.default_rng(args.seed).permutation(len(items))[:args.clips]]
    clips = [torch.from_numpy(np.load(item.clip)) for item in chosen]
    lengths = torch.tensor([len(c) for c in clips])
    frames = prepare_frames(torch.cat(clips), lengths, config.mean, config.std)
    unfold_batchnorm(student, biases, frames, lengths)
    torch.manual_seed(args.seed)
    kd_head = KDHead(config.feature_dim, prepared.teacher_dim, args.kd_hidden)
    mean, std = teacher_stats([i.teacher for i in items], args.seed, [i.teacher_mask for i in items])
    kd_head.teacher_mean.copy_(torch.from_numpy(mean))
    kd_head.teacher_std.copy_(torch.from_numpy(std))
    torch.save({"format": PRETRAIN_FORMAT, "model": student.state_dict(), "kd_head": kd_head.state_dict(),
                "config": config.name, "teacher": args.teacher, "kd_loss": "mse", "kd_hidden": args.kd_hidden,
                "steps": 0, "history": []}, args.out)
    print(f"{args.out}: {args.model} as a {config.name} student (BN unfolded on {len(chosen)} clips, "
          f"{int(lengths.sum())} frames), new KD head for {args.teacher} ({prepared.teacher_dim})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
