"""The Python Y4M reader gives the verdicts committed in Tests/y4m-cases/verdicts.txt, on the files
committed there; the Swift reader's test (Y4MAgreementTests) checks the board gives the same."""

import importlib.util
from pathlib import Path

CASES = Path(__file__).resolve().parents[2] / "Tests" / "y4m-cases"


def _script():
    spec = importlib.util.spec_from_file_location("make_cases", CASES / "make_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_cases_are_what_the_script_writes_and_the_python_reader_says(tmp_path):
    lines = _script().write(tmp_path)
    committed = (CASES / "verdicts.txt").read_text().splitlines()
    assert lines == committed, "Python's Y4M reader changed its verdicts: run python3 Tests/y4m-cases/make_cases.py " \
                               "and check the Swift reader still agrees (swift test --filter Y4MAgreementTests)"
    written = sorted(p.name for p in (tmp_path / "cases").iterdir())
    assert written == sorted(p.name for p in (CASES / "cases").iterdir())
    for name in written:
        assert (tmp_path / "cases" / name).read_bytes() == (CASES / "cases" / name).read_bytes(), name


def test_the_cases_cover_both_outcomes_and_every_chroma():
    verdicts = [line.split() for line in (CASES / "verdicts.txt").read_text().splitlines()]
    accepted = [v for v in verdicts if v[1] == "ok"]
    assert {v[4] for v in accepted} == {"420", "422", "444"} and {v[5] for v in accepted} == {"limited", "full"}
    assert len(verdicts) - len(accepted) >= 20
    assert {"unknown-tags-skipped", "interlacing-unknown"} <= {v[0] for v in accepted}
    assert {"interlaced-top", "aspect-not-a-ratio", "chroma-10-bit"} <= {v[0] for v in verdicts if v[1] == "error"}
