"""scripts/bench-peers.py's parsing of `dactyl bench --json` and its table (not the peers themselves)."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench-peers.py"
spec = importlib.util.spec_from_file_location("bench_peers", SCRIPT)
bench_peers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_peers)


def test_parses_the_encoder_times_from_the_json_line():
    stdout = 'some text\n{"model":"m.dmdl","encoder_ms_median":3.25,"encoder_ms_min":2.5,"frames":20}\n'
    assert bench_peers.parse_dactyl_bench(stdout) == (3.25, 2.5)


def test_a_report_without_the_encoder_time_is_an_error():
    with pytest.raises(ValueError, match="encoder_ms_median"):
        bench_peers.parse_dactyl_bench('{"frame_ms_median":3.0}\n')
    with pytest.raises(ValueError, match="no JSON"):
        bench_peers.parse_dactyl_bench("dactyl: bench failed\n")


def test_table_gives_medians_minimums_and_ratios_and_names_what_did_not_run():
    results = {
        ("dactyl", 112, 1): [(3.0, 2.8), (4.0, 2.9), (3.5, 3.1)],
        ("ort-int8", 112, 1): [(6.0, 5.6), (7.0, 5.5), (5.0, 5.0)],
    }
    failures = {"ncnn-int8": "ncnn2int8 missing"}
    lines = bench_peers.format_table(results, failures, ["dactyl", "ort-int8", "ncnn-int8", "torch-fp32"], [112], [1])
    dactyl, ort, ncnn, torch = lines[1:]
    assert dactyl.split()[:4] == ["dactyl", "112x112", "1", "3.500"]
    assert ort.split()[3] == "6.000"                   # median of the pass medians 6, 7, 5
    assert ort.split()[-3:] == ["5.000", "0.58", "0.56"]  # best minimum; 3.5 / 6.0; 2.8 / 5.0
    assert "not run: ncnn2int8 missing" in ncnn
    assert torch.endswith("no result")


def test_ncnn_quantisation_runs_table_then_int8_on_the_calibration_tensors(tmp_path):
    tools = tmp_path / "tools"
    fp32 = (tmp_path / "m.ncnn.param", tmp_path / "m.ncnn.bin")
    int8 = (tmp_path / "m_int8.param", tmp_path / "m_int8.bin")
    calibration = [tmp_path / "c0.npy", tmp_path / "c1.npy"]
    commands, listing, lines = bench_peers.ncnn_quantise_commands(tools, fp32, int8, tmp_path / "m.table",
                                                                  calibration, 128)
    table, to_int8 = commands
    assert table[:5] == [str(tools / "ncnn2table"), str(fp32[0]), str(fp32[1]), str(listing), str(tmp_path / "m.table")]
    assert "shape=[128,128,3]" in table and "type=1" in table  # .npy tensors, innermost axis first
    assert to_int8 == [str(tools / "ncnn2int8"), str(fp32[0]), str(fp32[1]), str(int8[0]), str(int8[1]),
                       str(tmp_path / "m.table")]
    assert lines == [str(path) for path in calibration]


def test_full_integer_input_rounds_offsets_and_saturates():
    import numpy as np
    frame = np.array([-10.0, -0.26, 0.0, 0.24, 0.26, 10.0], dtype=np.float32)
    quantised = bench_peers.quantise_input(frame, 0.5, 3)
    assert quantised.dtype == np.int8
    assert quantised.tolist() == [-17, 2, 3, 3, 4, 23]
    assert bench_peers.quantise_input(np.array([100.0]), 0.1, 0).tolist() == [127]
