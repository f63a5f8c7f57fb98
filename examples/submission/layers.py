"""Assignment 2: layers. (An example submission, written the way many students write it.)"""
import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    x_flat = x.reshape(x.shape[0], -1)
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x_flat.T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


def leaky_relu_forward(x, negative_slope=0.01):
    out = np.where(x > 0, x, negative_slope * x)
    cache = (x, negative_slope)
    return out, cache


def leaky_relu_backward(dout, cache):
    x, negative_slope = cache
    dx = dout.copy()
    dx[x <= 0] *= negative_slope
    return dx


def softmax_loss(x, y):
    N = x.shape[0]
    probs = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def conv_forward(x, w, b, conv_param):
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            for f in range(F):
                out[:, f, i, j] = np.sum(window * w[f], axis=(1, 2, 3)) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            for f in range(F):
                dw[f] += np.sum(window * dout[:, f, i, j][:, None, None, None], axis=0)
                dx_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += \
                    w[f][None] * dout[:, f, i, j][:, None, None, None]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward(x, pool_param):
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = np.max(window, axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward(dout, cache):
    x, pool_param = cache
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    N, C, H, W = x.shape
    _, _, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    r, s = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + r, j * stride + s] += dout[n, c, i, j]
    return dx


def avg_pool_forward(x, pool_param):
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = np.mean(x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw], axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def avg_pool_backward(dout, cache):
    x, pool_param = cache
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    _, _, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for i in range(H_out):
        for j in range(W_out):
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] += \
                dout[:, :, i, j][:, :, None, None] / (ph * pw)
    return dx
