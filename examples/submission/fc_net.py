"""Assignment 2: a fully-connected network. (An example submission.)"""
import numpy as np

from layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss


class FullyConnectedNet:
    def __init__(self, input_dim, hidden_dims, num_classes=10, weight_scale=1e-2, reg=0.0,
                 dtype=np.float64):
        self.reg = reg
        self.dtype = dtype
        self.num_layers = 1 + len(hidden_dims)
        self.params = {}
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            self.params['W%d' % (i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params['b%d' % (i + 1)] = np.zeros(dims[i + 1])
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        caches = []
        h = X
        for i in range(1, self.num_layers):
            h, fc_cache = affine_forward(h, self.params['W%d' % i], self.params['b%d' % i])
            h, relu_cache = relu_forward(h)
            caches.append((fc_cache, relu_cache))
        L = self.num_layers
        scores, last_cache = affine_forward(h, self.params['W%d' % L], self.params['b%d' % L])
        if y is None:
            return scores

        grads = {}
        loss, dscores = softmax_loss(scores, y)
        dh, grads['W%d' % L], grads['b%d' % L] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            fc_cache, relu_cache = caches[i - 1]
            dh = relu_backward(dh, relu_cache)
            dh, grads['W%d' % i], grads['b%d' % i] = affine_backward(dh, fc_cache)
        for i in range(1, L + 1):
            W = self.params['W%d' % i]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads['W%d' % i] += self.reg * W
        return loss, grads
