"""Timing in the generator (synth/sequence.py): any frame rate from one trajectory, signing speed, letter holds."""

import json

import numpy as np
import pytest

from dactyl_quant.synth.cli import main
from dactyl_quant.synth.clip import SynthSettings, render_clip
from dactyl_quant.synth.scene import make_signers
from dactyl_quant.synth.sequence import LETTER_SHAPES, Timing, signer_speed, word_sequence


def test_one_seed_is_one_trajectory_sampled_at_any_rate():
    thirty = word_sequence("puzzle", np.random.default_rng(3), 30)
    sixty = word_sequence("puzzle", np.random.default_rng(3), 60)
    fifteen = word_sequence("puzzle", np.random.default_rng(3), 15)
    # The same instants: frame 2k at 60 and k at 15 are frames k and 4k... of the 30 frames/s clip.
    assert np.array_equal(sixty.angles[::2][:thirty.num_frames], thirty.angles[:len(sixty.angles[::2])])
    assert np.allclose(fifteen.positions, thirty.positions[::2][:fifteen.num_frames])
    assert np.allclose(sixty.orientations[::2][:thirty.num_frames], thirty.orientations[:len(sixty.orientations[::2])])
    assert abs(sixty.num_frames - 2 * thirty.num_frames) <= 1 and abs(2 * fifteen.num_frames - thirty.num_frames) <= 1
    # Between the 30 frames/s frames, 60 frames/s shows poses in between, not repeats.
    middle = sixty.angles[1:2 * thirty.num_frames - 2:2]
    assert np.all(np.abs(middle - (thirty.angles[:-1][:len(middle)] + thirty.angles[1:][:len(middle)]) / 2) < 0.05)
    assert not np.array_equal(sixty.angles[1], sixty.angles[0])
    # Letter holds cover the same time at every rate.
    for a, b in zip(thirty.spans, sixty.spans):
        assert a.letter == b.letter and abs(b.start - 2 * a.start) <= 1 and abs(b.end - 2 * a.end) <= 1


def test_a_clip_at_another_rate_has_the_same_signer_view_and_look():
    settings = SynthSettings("test", 32, 32)
    signer = make_signers("test", 1, np.random.default_rng(0))[0]
    at30 = render_clip("hi", np.random.default_rng(8), settings, signer)
    at15 = render_clip("hi", np.random.default_rng(8), SynthSettings("test", 32, 32, fps=15), signer)
    assert at15.viewpoint == at30.viewpoint
    # Frame 0 is the same instant, rendered with the same draws: the same picture.
    assert np.array_equal(at15.frames[0], at30.frames[0])
    assert abs(2 * len(at15.frames) - len(at30.frames)) <= 1


def _letters_frames(word: str, timing: Timing, seeds=range(12), fps: int = 30) -> np.ndarray:
    return np.array([word_sequence(word, np.random.default_rng(s), fps, timing).num_frames for s in seeds])


def test_signing_speed_scales_the_word():
    normal = _letters_frames("fingerspell", Timing(1.0))
    assert np.allclose(_letters_frames("fingerspell", Timing(2.0)) / normal, 0.5, atol=0.06)
    assert np.allclose(_letters_frames("fingerspell", Timing(0.5)) / normal, 2.0, atol=0.1)
    # The same seed at another speed is the same draws: letter order and pauses match.
    slow = word_sequence("ab c", np.random.default_rng(1), 30, Timing(0.75))
    assert [s.letter for s in slow.spans] == ["a", "b", " ", "c"]


def test_letter_holds_reach_two_seconds_and_motion_letters_keep_their_movement():
    holds, motion_holds = [], []
    for seed in range(20):
        sequence = word_sequence("ajbzcdefgh", np.random.default_rng(seed), 30, Timing(1.0, (0.1, 2.0)))
        for span in sequence.spans:
            (motion_holds if LETTER_SHAPES[span.letter].motion else holds).append(span.end - span.start)
    holds = np.array(holds)
    assert holds.min() >= 3 and holds.max() <= 61  # 0.1 s to 2 s at 30 frames/s
    assert holds.max() >= 40 and holds.min() <= 5 and 8 <= np.median(holds) <= 20  # log-uniform: median ~0.45 s
    assert max(motion_holds) <= 12  # J and Z: their movement's own time (8-12 frames at speed 1)
    default = [s.end - s.start for seed in range(20) for s in word_sequence("abcdefgh", np.random.default_rng(seed)).spans]
    assert min(default) >= 3 and max(default) <= 8  # the pace's own holds: 0.1-0.27 s


def test_each_signer_has_a_speed_of_their_own():
    speeds = np.array([signer_speed(f"synth-train-{n:02d}/{n}", (0.5, 2.0)) for n in range(400)])
    assert speeds.min() >= 0.5 and speeds.max() <= 2.0
    assert speeds.min() < 0.55 and speeds.max() > 1.8
    assert 0.85 < np.exp(np.log(speeds).mean()) < 1.15  # log-uniform: geometric mean 1
    assert signer_speed("a", (0.5, 2.0)) == signer_speed("a", (0.5, 2.0)) != signer_speed("b", (0.5, 2.0))
    assert signer_speed("a", (1.5, 1.5)) == 1.5
    settings = SynthSettings("train", speed=(0.5, 2.0))
    signers = make_signers("train", 16, np.random.default_rng(2))
    paces = {settings.signer_timing(s).speed for s in signers}
    assert len(paces) == 16


@pytest.mark.parametrize("speed, hold", [(5.0, None), (1.0, (0.5, 0.1)), (1.0, (0.0, 1.0))])
def test_impossible_timings_are_refused(speed, hold):
    with pytest.raises(ValueError):
        Timing(speed, hold)


def test_generate_takes_fps_speed_and_hold(tmp_path, capsys):
    words = tmp_path / "words.txt"
    words.write_text("ox\n")
    out = tmp_path / "out"
    assert main(["generate", "--words", str(words), "--out", str(out), "--seed", "4", "--clips", "2", "--size", "24x24",
                 "--fps", "60", "--speed", "0.5,2", "--hold", "0.1,2"]) == 0
    manifest = json.loads((out / "synth.json").read_text())["train"]
    assert (manifest["fps"], manifest["speed"], manifest["hold"]) == (60, [0.5, 2.0], [0.1, 2.0])
    assert main(["generate", "--words", str(words), "--out", str(out), "--seed", "4", "--speed", "8"]) == 1
    assert "signing speed 8.0" in capsys.readouterr().err
