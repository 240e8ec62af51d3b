import numpy as np

from weakpose.cli import SUBCOMMANDS, main


def test_cli_dispatches_make_synthetic(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["make-synthetic", "--out", str(out), "--max-frames", "20", "--no-bvh", "--actions", "Walking"]) == 0
    d3 = np.load(out / "data_3d_synthetic.npz", allow_pickle=True)["positions_3d"].item()
    assert all(a.split(" ")[0] == "Walking" for s in d3.values() for a in s)
    assert all(arr.shape[1:] == (17, 3) for s in d3.values() for arr in s.values())


def test_cli_usage_and_unknown_command(capsys):
    assert main([]) == 0
    usage = capsys.readouterr().out
    assert all(name in usage for name in SUBCOMMANDS)
    assert main(["no-such-command"]) == 2
    assert "unknown command 'no-such-command'" in capsys.readouterr().err
