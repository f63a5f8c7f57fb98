"""A fully-connected network with ReLU nonlinearities and a softmax loss."""
import numpy as np

from layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss


class FullyConnectedNet:
    """A fully-connected neural network with any number of hidden layers.

    The architecture is

        {affine -> ReLU} x len(hidden_dims) -> affine -> softmax loss

    The learnable parameters live in the dictionary self.params: 'W1', 'b1' for
    the first affine layer, 'W2', 'b2' for the second, and so on up to 'WL', 'bL'
    for the last one, where L = len(hidden_dims) + 1.
    """

    def __init__(self, input_dim, hidden_dims, num_classes=10, weight_scale=1e-2, reg=0.0,
                 dtype=np.float64):
        """Initialize a new FullyConnectedNet.

        Inputs:
        - input_dim: An integer giving the size of the input (D)
        - hidden_dims: A list of integers giving the size of each hidden layer
        - num_classes: An integer giving the number of classes to classify (C)
        - weight_scale: Standard deviation of the normal distribution that the
          weights are drawn from
        - reg: Strength of the L2 regularization
        - dtype: A numpy datatype object; every parameter is cast to it

        Initializes self.params so that:
        - self.params['Wl'] has shape (in, out) for layer l, drawn from
          N(0, weight_scale^2) with np.random
        - self.params['bl'] has shape (out,) and is all zeros
        """
        self.reg = reg
        self.dtype = dtype
        self.num_layers = 1 + len(hidden_dims)
        self.params = {}
        # ******************************************************************************
        # TODO: layer l maps dims[l-1] to dims[l] where dims = [input_dim, *hidden_dims,
        #       num_classes]; scale np.random.randn by weight_scale.
        # ******************************************************************************
        raise NotImplementedError("FullyConnectedNet.__init__ is not implemented yet")
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        """Compute the scores, or the loss and gradients, for a minibatch.

        Inputs:
        - X: Array of input data, of shape (N, d_1, ..., d_k)
        - y: Array of integer labels, of shape (N,), where 0 <= y[i] < C, or None

        Returns:
        If y is None, the scores for a test-time forward pass:
        - scores: Array of shape (N, C) giving the classification scores, where
          scores[i, c] is the score of class c for X[i]. No ReLU follows the last
          affine layer.

        If y is not None, a tuple of:
        - loss: Scalar value giving the softmax loss plus the L2 regularization
          0.5 * reg * sum_l ||W_l||^2 (the sum of squares of every weight matrix)
        - grads: Dictionary with the same keys as self.params, mapping each
          parameter name to the gradient of the loss with respect to it; the
          gradient of each weight matrix W_l includes reg * W_l
        """
        X = X.astype(self.dtype)
        scores = None
        # ******************************************************************************
        # TODO: apply affine then relu for each hidden layer, keeping every cache, then
        #       one last affine without relu.
        # ******************************************************************************
        raise NotImplementedError("FullyConnectedNet.loss is not implemented yet")
        if y is None:
            return scores

        loss, grads = 0.0, {}
        # ******************************************************************************
        # TODO: start from softmax_loss, walk the caches backwards, and add 0.5 * reg *
        #       ||W||^2 to the loss and reg * W to each weight gradient.
        # ******************************************************************************
        raise NotImplementedError("FullyConnectedNet.loss is not implemented yet")
        return loss, grads
