#!/usr/bin/env python3
"""Dactyl against other int8 runtimes on the same ResNet34 student with the same weights.

Builds the ResNet34 student (seeded random weights, as quantization/scripts/export_resnet34.py),
writes its .dmdl for Dactyl and its BatchNorm-folded float encoder as ONNX for the others, then
measures, interleaved over --passes passes, batch-1 encoder latency (input tensor -> 512-d
feature) at each size and thread count:

  dactyl         `dactyl bench --json`'s encoder_ms_median (the fastest kernel path the CPU has)
  ort-int8       ONNX Runtime CPU EP, static QDQ, per-channel weights, U8S8
  ort-fp32       ONNX Runtime CPU EP, the float model
  torch-fp32     PyTorch eager, the float model
  ncnn-int8, litert-int8: reported as not run, with the reason (see the end of this file)

and prints each pass, then a table of medians with the ratio Dactyl / runtime (< 1: Dactyl is
faster). Set-up: `pip install onnxruntime onnx` (torch is the Python side's own), and a release
build (`swift build -c release`).

usage: scripts/bench-peers.py [--dactyl BIN] [--sizes 112,128] [--threads 1,2] [--passes 3]
                              [--iterations 30] [--work DIR]
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# --- parsing and the table (tested by quantization/tests/test_bench_peers.py) ---------------

def parse_dactyl_bench(stdout: str) -> tuple:
    """The encoder's (median, minimum) milliseconds from `dactyl bench --json` output."""
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            report = json.loads(line)
            if "encoder_ms_median" not in report or "encoder_ms_min" not in report:
                raise ValueError("dactyl bench --json: no encoder_ms_median / encoder_ms_min in its report")
            return float(report["encoder_ms_median"]), float(report["encoder_ms_min"])
    raise ValueError("dactyl bench --json printed no JSON object")


def format_table(results: dict, failures: dict, runtimes: list, sizes: list, threads: list) -> list:
    """results[(runtime, size, threads)] = [(median ms, min ms) per pass]; failures[runtime] = why it
    did not run. Returns the table's lines: per size and thread count, each runtime's median over
    the passes (each pass's median listed), its best minimum, and Dactyl / it for both."""
    lines = [f"{'runtime':<14}{'input':>8}{'threads':>8}{'median ms':>11}{'pass medians':>24}{'min ms':>9}"
             f"{'dactyl/it':>11}{'(min)':>7}"]
    for size in sizes:
        for count in threads:
            dactyl = results.get(("dactyl", size, count))
            dactyl_ms = statistics.median(t[0] for t in dactyl) if dactyl else None
            dactyl_min = min(t[1] for t in dactyl) if dactyl else None
            for runtime in runtimes:
                label = f"{runtime:<14}{f'{size}x{size}':>8}{count:>8}"
                if runtime in failures:
                    lines.append(label + f"  not run: {failures[runtime]}")
                    continue
                times = results.get((runtime, size, count))
                if not times:
                    lines.append(label + "  no result")
                    continue
                ms = statistics.median(t[0] for t in times)
                best = min(t[1] for t in times)
                compared = dactyl_ms is not None and runtime != "dactyl"
                ratio = f"{dactyl_ms / ms:.2f}" if compared else "-"
                ratio_min = f"{dactyl_min / best:.2f}" if compared else "-"
                passes = " ".join(f"{t[0]:.2f}" for t in times)
                lines.append(label + f"{ms:>11.3f}{passes:>24}{best:>9.3f}{ratio:>11}{ratio_min:>7}")
    return lines


# --- the runtimes ---------------------------------------------------------------------------

def median_ms(run, iterations: int, warmup: int = 5) -> tuple:
    """(median, minimum) milliseconds of `iterations` calls after a warm-up."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def prepare(work: Path, sizes: list):
    """The .dmdl, the float ONNX and the int8 QDQ ONNX per size, and calibration tensors."""
    sys.path.insert(0, str(ROOT / "quantization"))
    import numpy as np
    import torch
    from dactyl_quant.build import build
    from dactyl_quant.export import write_model
    from dactyl_quant.preprocess import float_clip
    from dactyl_quant.student import CONFIGS
    from dactyl_quant.synthclip import make_frames

    config = CONFIGS["resnet34"]
    clip = make_frames(160, 120, 16, seed=0)
    built = build(config, [clip], "resnet34 student, seed 0, for scripts/bench-peers.py", seed=0)
    work.mkdir(parents=True, exist_ok=True)
    dmdl = work / "resnet34.dmdl"
    write_model(built.model, dmdl)
    encoder = built.folded.encoder.eval()
    models = {}
    for size in sizes:
        frames = float_clip(clip, config.default_crop, size, size, config.mean, config.std).astype(np.float32)
        fp32 = work / f"resnet34_{size}.onnx"
        int8 = work / f"resnet34_{size}_int8.onnx"
        with torch.no_grad():
            torch.onnx.export(encoder, (torch.from_numpy(frames[:1]),), str(fp32), dynamo=False, opset_version=17,
                              input_names=["input"], output_names=["feature"])
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

        class Frames(CalibrationDataReader):
            def __init__(self):
                self.items = iter([{"input": frames[i:i + 1]} for i in range(len(frames))])

            def get_next(self):
                return next(self.items, None)

        quantize_static(str(fp32), str(int8), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        models[size] = (fp32, int8, frames[:1])
    return dmdl, encoder, models


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dactyl", default=str(ROOT / ".build/release/dactyl"))
    parser.add_argument("--sizes", default="112,128")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--work", type=Path, default=Path("/tmp/dactyl-bench-peers"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]
    if not Path(args.dactyl).exists():
        print(f"bench-peers: no {args.dactyl}; run swift build -c release first", file=sys.stderr)
        return 1

    failures = {}
    try:
        import onnxruntime as ort
    except ImportError as error:
        ort = None
        failures["ort-int8"] = failures["ort-fp32"] = f"import onnxruntime failed ({error}); pip install onnxruntime onnx"
    failures["ncnn-int8"] = ("not set up by this script yet: needs ncnn and pnnx from PyPI and ncnn2table/ncnn2int8 "
                             "built from ncnn's source (tools/quantize)")
    failures["litert-int8"] = ("not set up by this script yet: needs a full-integer .tflite from litert-torch "
                               "(PT2E, strict int8); ai-edge-litert alone cannot make one")
    dmdl, encoder, models = prepare(args.work, sizes)

    import torch
    runners = {}
    for size in sizes:
        fp32, int8, frame = models[size]
        for count in thread_counts:
            def dactyl(size=size, count=count):
                command = [args.dactyl, "bench", "--model", str(dmdl), "--input", f"{size}x{size}", "--threads", str(count),
                           "--frames", str(args.iterations), "--json"]
                result = subprocess.run(command, capture_output=True, text=True)
                if result.returncode != 0:
                    raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip()}")
                return parse_dactyl_bench(result.stdout)
            runners[("dactyl", size, count)] = dactyl
            if ort is not None:
                for name, path in (("ort-int8", int8), ("ort-fp32", fp32)):
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = count
                    options.inter_op_num_threads = 1
                    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                    runners[(name, size, count)] = (
                        lambda s=session, f=frame: median_ms(lambda: s.run(None, {"input": f}), args.iterations))

            def torch_fp32(count=count, frame=frame):
                torch.set_num_threads(count)
                tensor = torch.from_numpy(frame)
                with torch.inference_mode():
                    return median_ms(lambda: encoder(tensor), args.iterations)
            runners[("torch-fp32", size, count)] = torch_fp32

    runtimes = ["dactyl", "ort-int8", "ort-fp32", "torch-fp32", "ncnn-int8", "litert-int8"]
    results = {}
    for index in range(args.passes):
        for key, run in runners.items():
            try:
                ms = run()
            except Exception as error:  # a runtime that fails is reported, not fatal
                failures[key[0]] = f"{key[1]}x{key[1]}, {key[2]} thread(s): " + str(error).splitlines()[0]
                continue
            results.setdefault(key, []).append(ms)
            print(f"pass {index + 1}: {key[0]:<12} {key[1]}x{key[1]} {key[2]} thread(s): median {ms[0]:.3f} ms, "
                  f"min {ms[1]:.3f} ms", flush=True)
    print()
    print(f"encoder latency, batch 1, {args.passes} interleaved passes of {args.iterations} runs each "
          "(median of the passes' medians; min: the fastest run, the least disturbed by other processes); "
          "dactyl/it < 1: Dactyl is faster")
    for line in format_table(results, failures, runtimes, sizes, thread_counts):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
