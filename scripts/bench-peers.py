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
  ncnn-int8      ncnn (PyPI `ncnn`), the model converted by `pnnx`, quantised by ncnn2table (KL,
                 the same calibration frames) + ncnn2int8 built from ncnn's source; Winograd off
                 (ncnn's int8 Winograd is ~2.6x slower here), fp16/bf16 storage off
  litert-int8    LiteRT + XNNPACK (`ai-edge-litert`), a full-integer model from `litert-torch`
                 (PT2E, symmetric per-channel int8 weights, int8 activations and input)

and prints each pass, then a table of medians with the ratio Dactyl / runtime (< 1: Dactyl is
faster). A runtime that cannot be set up is a row saying exactly what failed. Set-up:
scripts/bench-peers-setup.sh (a virtual environment with the peers, and ncnn's two quantisation
tools built from its source), a release build (`swift build -c release`), then
`.bench-venv/bin/python scripts/bench-peers.py --ncnn-tools .bench-venv/ncnn-tools`.

usage: scripts/bench-peers.py [--dactyl BIN] [--sizes 112,128] [--threads 1,2] [--passes 3]
                              [--iterations 30] [--work DIR] [--ncnn-tools DIR]
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
    lines = [f"{'runtime':<14}{'input':>8}{'threads':>8}{'median ms':>11}  {'pass medians':<32}{'min ms':>9}"
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
                lines.append(label + f"{ms:>11.3f}  {passes:<32}{best:>9.3f}{ratio:>11}{ratio_min:>7}")
    return lines


def ncnn_quantise_commands(tools: Path, fp32: tuple, int8: tuple, table: Path, calibration: list,
                           size: int) -> tuple:
    """(commands, list file, its lines): ncnn2table (KL over the calibration tensors, saved as .npy in CHW order: ncnn's shape is
    given innermost first, [W,H,C]) then ncnn2int8 (per-channel weight scales from the table)."""
    listing = table.with_suffix(".list")
    return [
        [str(tools / "ncnn2table"), str(fp32[0]), str(fp32[1]), str(listing), str(table),
         f"shape=[{size},{size},3]", "method=kl", "type=1", "thread=1"],
        [str(tools / "ncnn2int8"), str(fp32[0]), str(fp32[1]), str(int8[0]), str(int8[1]), str(table)],
    ], listing, [str(path) for path in calibration]


def quantise_input(frame, scale: float, zero_point: int):
    """A float tensor as a full-integer model's int8 input."""
    import numpy as np
    return np.clip(np.round(frame / scale) + zero_point, -128, 127).astype(np.int8)


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
        models[size] = (fp32, int8, frames[:1], frames)
    return dmdl, encoder, models


def prepare_ncnn(work: Path, encoder, size: int, frames, tools: Path) -> tuple:
    """The encoder as ncnn int8 (param, bin): pnnx, then ncnn's quantisation tools. Cached."""
    import numpy as np
    import torch
    int8 = (work / f"resnet34_{size}_ncnn_int8.param", work / f"resnet34_{size}_ncnn_int8.bin")
    if int8[0].exists() and int8[1].exists():
        return int8
    if tools is None or not (tools / "ncnn2table").exists() or not (tools / "ncnn2int8").exists():
        raise RuntimeError(f"no ncnn2table/ncnn2int8 in {tools} (--ncnn-tools; scripts/bench-peers-setup.sh builds "
                           "them from ncnn's source)")
    import pnnx
    traced = work / f"resnet34_{size}_pnnx.pt"
    pnnx.export(encoder, str(traced), (torch.from_numpy(frames[:1]),))
    fp32 = (traced.with_suffix(".ncnn.param"), traced.with_suffix(".ncnn.bin"))
    calibration = []
    for index, frame in enumerate(frames):
        path = work / f"calibration_{size}_{index}.npy"
        np.save(path, np.ascontiguousarray(frame))
        calibration.append(path)
    commands, listing, paths = ncnn_quantise_commands(tools, fp32, int8, work / f"resnet34_{size}_ncnn.table",
                                                      calibration, size)
    listing.write_text("\n".join(paths) + "\n")
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {(result.stderr or result.stdout).strip()[-300:]}")
    return int8


def prepare_litert(work: Path, encoder, size: int, frames) -> Path:
    """The encoder as a full-integer .tflite (litert-torch, PT2E; ~3 minutes a size). Cached."""
    import torch
    path = work / f"resnet34_{size}_int8.tflite"
    if path.exists():
        return path
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer, quant_config
    from torchao.quantization.pt2e import quantize_pt2e
    example = (torch.from_numpy(frames[:1]),)
    exported = torch.export.export(encoder, example).module()
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
    observed = quantize_pt2e.prepare_pt2e(exported, quantizer)
    with torch.no_grad():
        for index in range(len(frames)):
            observed(torch.from_numpy(frames[index:index + 1]))
    quantised = quantize_pt2e.convert_pt2e(observed, fold_quantize=False)
    model = litert_torch.convert(quantised, example, quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer))
    model.export(str(path))
    return path


def ncnn_runner(model: tuple, frame, threads: int, iterations: int):
    """ncnn int8 inference, batch 1, `threads` threads, Winograd and half-precision storage off."""
    import ncnn
    net = ncnn.Net()
    net.opt.num_threads = threads
    net.opt.use_int8_inference = True
    net.opt.use_winograd_convolution = False
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    if net.load_param(str(model[0])) != 0 or net.load_model(str(model[1])) != 0:
        raise RuntimeError(f"ncnn could not load {model[0]}")
    tensor = ncnn.Mat(frame, batch_index=0).clone()  # (1, C, H, W): batch_index says which axis is the batch

    def run():
        extractor = net.create_extractor()
        extractor.input("in0", tensor)
        status, _ = extractor.extract("out0")
        if status != 0:
            raise RuntimeError(f"ncnn extract failed ({status})")
    return lambda: median_ms(run, iterations)


def litert_runner(model: Path, frame, threads: int, iterations: int):
    """LiteRT with its default XNNPACK delegate, `threads` threads, the int8 input set once."""
    from ai_edge_litert import interpreter as litert
    interpreter = litert.Interpreter(model_path=str(model), num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    scale, zero_point = detail["quantization"]
    interpreter.set_tensor(detail["index"], quantise_input(frame, scale, zero_point) if scale else frame)
    return lambda: median_ms(interpreter.invoke, iterations)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dactyl", default=str(ROOT / ".build/release/dactyl"))
    parser.add_argument("--sizes", default="112,128")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--work", type=Path, default=Path("/tmp/dactyl-bench-peers"))
    parser.add_argument("--ncnn-tools", type=Path, default=ROOT / ".bench-venv" / "ncnn-tools",
                        help="folder with ncnn2table and ncnn2int8 (scripts/bench-peers-setup.sh)")
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
    dmdl, encoder, models = prepare(args.work, sizes)
    peers = {}  # (runtime, size) -> model path(s)
    for runtime, make in (("ncnn-int8", lambda size, frames: prepare_ncnn(args.work, encoder, size, frames,
                                                                            args.ncnn_tools)),
                          ("litert-int8", lambda size, frames: prepare_litert(args.work, encoder, size, frames))):
        for size in sizes:
            try:
                peers[(runtime, size)] = make(size, models[size][3])
            except Exception as error:  # set-up that fails is a row of the table, not the end of the run
                failures[runtime] = f"set-up failed at {size}x{size}: " + (str(error).splitlines() or [repr(error)])[0]
                break

    import torch
    runners = {}
    for size in sizes:
        fp32, int8, frame, _ = models[size]
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
            if ("ncnn-int8", size) in peers and "ncnn-int8" not in failures:
                runners[("ncnn-int8", size, count)] = ncnn_runner(peers[("ncnn-int8", size)], frame, count,
                                                                  args.iterations)
            if ("litert-int8", size) in peers and "litert-int8" not in failures:
                runners[("litert-int8", size, count)] = litert_runner(peers[("litert-int8", size)], frame, count,
                                                                      args.iterations)

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
