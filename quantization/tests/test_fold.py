import torch
import torch.nn.functional as F
from torch import nn

from dactyl_quant.fold import fold_batchnorm, fold_conv_bn
from dactyl_quant.graph import lower_encoder, run_float
from dactyl_quant.student import CONFIGS, ConvBN, Student


def _randomise_norms(model: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = module.num_features
            module.weight.data = torch.rand(n, generator=generator) + 0.5
            module.bias.data = torch.randn(n, generator=generator) * 0.3
            module.running_mean = torch.randn(n, generator=generator) * 0.5
            module.running_var = torch.rand(n, generator=generator) * 2 + 0.1


def test_fold_conv2d_and_conv1d_pairs():
    torch.manual_seed(0)
    cases = ((nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), torch.randn(2, 4, 9, 7),
              lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1)),
             (nn.Conv1d(5, 3, 5, padding=2, bias=False), torch.randn(2, 5, 11),
              lambda x, w, b: F.conv1d(x, w, b, padding=2)))
    for conv, x, convolve in cases:
        layer = ConvBN(conv)
        _randomise_norms(layer, 1)
        layer.eval()
        weight, bias = fold_conv_bn(layer.conv, layer.bn)
        torch.testing.assert_close(convolve(x, weight, bias), layer(x), rtol=1e-5, atol=1e-5)


def test_folded_student_equals_unfolded_in_eval_mode():
    torch.manual_seed(0)
    student = Student(CONFIGS["tiny"])
    _randomise_norms(student, 2)
    student.eval()
    folded = fold_batchnorm(student)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in folded.modules())
    clips = torch.randn(2, 5, 3, 24, 32)
    with torch.no_grad():
        torch.testing.assert_close(folded(clips), student(clips), rtol=1e-4, atol=1e-5)
    # The original keeps its BatchNorms: folding works on a copy.
    assert any(isinstance(m, nn.BatchNorm2d) for m in student.modules())


def test_lowered_encoder_computes_the_student_encoder():
    torch.manual_seed(0)
    student = Student(CONFIGS["tiny"])
    _randomise_norms(student, 3)
    folded = fold_batchnorm(student.eval())
    graph = lower_encoder(folded)
    frames = torch.randn(3, 3, 24, 32)
    tensors = run_float(graph, frames)
    with torch.no_grad():
        expected = folded.encode_frames(frames)
    torch.testing.assert_close(tensors[graph.feature_tensor].flatten(1), expected, rtol=1e-5, atol=1e-6)
    # conv1 → downsample → conv2(residual) per block, as docs/model-format.md orders them.
    kinds = [type(op).__name__ for op in graph.ops]
    assert kinds == ["FloatConv", "FloatMaxPool", "FloatConv", "FloatConv", "FloatConv", "FloatConv", "FloatConv",
                     "FloatGlobalAvgPool"]
    stage2 = graph.ops[4:7]
    assert stage2[1].residual is None and not stage2[1].relu and stage2[1].weight.shape[2:] == (1, 1)
    assert stage2[2].residual == stage2[1].output and stage2[2].relu
