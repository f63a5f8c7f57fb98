"""Brute-force oracles shared by the reference's tests: plain loops, one window at a time."""
import numpy as np


def window_positions(i, j, ph, pw, stride):
    """The input positions of pooling window (i, j), in row-major order."""
    return [(i * stride + a, j * stride + e) for a in range(ph) for e in range(pw)]


def brute_max_pool_backward(dout, x, ph, pw, stride, ties):
    """Each tie rule as stated in INTERFACE.md, one window at a time, with plain loops."""
    dx = np.zeros(x.shape)
    N, C, H_out, W_out = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    positions = window_positions(i, j, ph, pw, stride)
                    top = max(x[n, c, r, s] for r, s in positions)
                    winners = [(r, s) for r, s in positions if x[n, c, r, s] == top]
                    g = dout[n, c, i, j]
                    if ties == "all":
                        for r, s in winners:
                            dx[n, c, r, s] += g
                    elif ties == "split":
                        for r, s in winners:
                            dx[n, c, r, s] += g / len(winners)
                    elif ties == "first":
                        r, s = winners[0]
                        dx[n, c, r, s] += g
                    else:
                        raise AssertionError(ties)
    return dx
