import pytest
import torch

from forecaster.models.nets import ForecastNet, MonotoneQuantiles


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_head_shapes(cell):
    net = ForecastNet(
        7, n_days=5, quantiles=(0.1, 0.5, 0.9), cell=cell, hidden_size=8, num_layers=2
    )
    out = net(torch.randn(3, 11, 7))
    assert out["feed"].shape == (3, 11)
    assert out["harvest"].shape == (3, 11, 3)
    assert out["trajectory"].shape == (3, 11, 5, 3)


def test_quantiles_never_cross():
    head = MonotoneQuantiles(4, 2, (0.05, 0.1, 0.5, 0.9, 0.95))
    q = head(torch.randn(50, 4) * 10)
    assert (q.diff(dim=-1) > 0).all()


def test_prefix_never_sees_the_future():
    torch.manual_seed(0)
    net = ForecastNet(5, n_days=3, hidden_size=8).eval()
    x = torch.randn(2, 20, 5)
    y = x.clone()
    y[:, 12:] = torch.randn(2, 8, 5) * 100  # change the future only
    a, b = net(x), net(y)
    for k in a:
        assert torch.allclose(a[k][:, :12], b[k][:, :12])
        assert not torch.allclose(a[k][:, 12:], b[k][:, 12:])


def test_streaming_equals_one_shot():
    torch.manual_seed(1)
    net = ForecastNet(4, n_days=3, hidden_size=8, cell="lstm").eval()
    x = torch.randn(1, 15, 4)
    full = net(x)
    state, parts = None, []
    for t0 in range(0, 15, 4):
        out, state = net.step(x[:, t0 : t0 + 4], state)
        parts.append(out["harvest"])
    assert torch.allclose(torch.cat(parts, 1), full["harvest"], atol=1e-5)


def test_linear_skip_starts_at_zero_and_moves_all_titer_quantiles_together():
    torch.manual_seed(0)
    plain = ForecastNet(5, n_days=4, hidden_size=8, num_layers=1, dropout=0.0).eval()
    torch.manual_seed(0)
    skip = ForecastNet(5, n_days=4, hidden_size=8, num_layers=1, dropout=0.0, linear_skip=True)
    skip.eval()
    x = torch.randn(2, 6, 5)
    a, b = plain(x), skip(x)
    for k in ("feed", "harvest", "trajectory"):  # zero-initialised: same net at the start
        torch.testing.assert_close(a[k], b[k])
    with torch.no_grad():
        skip.skip.weight[0, 2] = 0.5  # harvest location += 0.5 * x[..., 2]
    c = skip(x)
    shift = (c["harvest"] - b["harvest"]).detach()
    torch.testing.assert_close(shift, (0.5 * x[..., 2])[..., None].expand_as(shift))
    torch.testing.assert_close(c["feed"], b["feed"])  # the feed head has no skip
    torch.testing.assert_close(c["trajectory"], b["trajectory"])


@pytest.mark.parametrize(
    "time_h, age_d, harvested",
    [
        (336.0, 0.0, True),  # the harvest assay in the last row
        (340.0, 4 / 24, True),  # rows after the harvest assay
        (335.0, 23 / 24, False),  # one hour before: the day-13 assay, a day still to grow
        (336.0, 1.0, False),  # at the end, but the last titer assay is a day old
        (335.6, 0.0, True),  # clock jitter under half an hour
    ],
)
def test_harvest_gate_reports_the_measured_harvest_titer(time_h, age_d, harvested):
    """Once the titer is assayed at or after the planned end, every harvest quantile is that
    assay (the anchor); before, the network's growth applies. The trajectory is untouched."""
    torch.manual_seed(0)
    anchor = (0, 2.0, 0.5)  # anchor = 2 x[..., 0] + 0.5
    kw = dict(n_days=3, hidden_size=8, num_layers=1, dropout=0.0, anchor=anchor, linear_skip=True)
    net = ForecastNet(4, harvest_gate=(1, 2, 336.0, 336.0), **kw).eval()
    torch.manual_seed(0)
    free = ForecastNet(4, **kw).eval()
    x = torch.randn(1, 5, 4)
    x[0, -1, 1], x[0, -1, 2] = time_h / 336.0, age_d
    with torch.no_grad():
        free.skip.weight.fill_(0.3)
        net.skip.weight.fill_(0.3)
    g, f = net(x), free(x)
    torch.testing.assert_close(g["trajectory"], f["trajectory"])
    torch.testing.assert_close(g["harvest"][0, :-1], f["harvest"][0, :-1])
    base = 2.0 * x[0, -1, 0] + 0.5
    if harvested:
        torch.testing.assert_close(g["harvest"][0, -1], base.expand(3))
    else:
        torch.testing.assert_close(g["harvest"][0, -1], f["harvest"][0, -1])


def test_harvest_gate_needs_an_anchor():
    with pytest.raises(ValueError, match="anchor"):
        ForecastNet(4, harvest_gate=(1, 2, 336.0, 336.0))
