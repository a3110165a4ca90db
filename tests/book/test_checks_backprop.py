"""The backward-pass checker: right answers written in many ways pass; each student habit that gets a gradient
wrong is told which gradient and how; autograd is refused; the notebook's state is left as it was."""

from __future__ import annotations

import functools
import random
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from d2lmini.book import checks_backprop
from d2lmini.book.checking import CheckResult
from d2lmini.book.checks_backprop import (
    GRADIENTS,
    LAB_CASE,
    cases,
    check_backward,
    hand_backward,
    reference_gradients,
)

STORED = (
    "✔ backward: correct. All four gradients agree with autograd on six batches, among them dead units, "
    "pre-activations exactly 0, a batch of one and a batch of 256 at the lab's sizes."
)
"""What the exercise notebook stores for a right answer (nbval compares it)."""

Tensors = tuple[torch.Tensor, ...]


def _forward(X: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor) -> Tensors:
    Z = X @ W1 + b1
    H = torch.relu(Z)
    return Z, H, H @ W2 + b2


def _delta(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (torch.softmax(logits, dim=1) - F.one_hot(y, logits.shape[1]).float()) / len(logits)


# ---------------------------------------------------------------------------
# Right answers, written as students write them


def right(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = _delta(logits, y)
    dW2, db2 = H.T @ delta, delta.sum(dim=0)
    dZ = (delta @ W2.T) * (Z > 0)
    return X.T @ dZ, dZ.sum(dim=0), dW2, db2


def right_einsum(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = _delta(logits, y)
    dH = torch.einsum("nq,hq->nh", delta, W2)
    dZ = torch.where(Z > 0, dH, torch.zeros_like(dH))
    return torch.einsum("nd,nh->dh", X, dZ), torch.einsum("nh->h", dZ), torch.einsum("nh,nq->hq", H, delta), \
        torch.einsum("nq->q", delta)  # fmt: skip


def right_loop(X, y, W1, b1, W2, b2):
    """One example at a time: each contributes an outer product, and the loss is their mean."""
    n = len(X)
    grads = [torch.zeros_like(W1), torch.zeros_like(b1), torch.zeros_like(W2), torch.zeros_like(b2)]
    for i in range(n):
        z = X[i] @ W1 + b1
        h = torch.relu(z)
        o = h @ W2 + b2
        p = torch.exp(o - o.max())
        p = p / p.sum()
        p[y[i]] -= 1
        d = p / n
        dz = (W2 @ d) * (z > 0)
        for g, value in zip(grads, (torch.outer(X[i], dz), dz, torch.outer(h, d), d), strict=True):
            g += value
    return tuple(grads)


def right_eye_scatter_and_masks(X, y, W1, b1, W2, b2):
    """One-hot from torch.eye on the inputs' device, a hand-made stable softmax, a mask taken from H."""
    _, H, logits = _forward(X, W1, b1, W2, b2)
    E = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
    P = E / E.sum(dim=1, keepdim=True)
    Y = torch.eye(W2.shape[1], device=X.device, dtype=X.dtype)[y]
    delta = (P - Y) / X.shape[0]
    dZ = (delta @ W2.T).masked_fill(H <= 0, 0.0)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def right_one_over_n_at_the_end(X, y, W1, b1, W2, b2):
    """delta without the 1/n, divided out in every gradient instead; Y filled by indexing; heaviside mask."""
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    n = len(X)
    G = torch.softmax(logits, dim=1)
    G[torch.arange(n, device=X.device), y] -= 1
    dZ = (G @ W2.T) * torch.heaviside(Z, torch.zeros_like(Z))
    return [X.T @ dZ / n, dZ.sum(0) / n, H.T @ G / n, G.mean(0)]


def right_sign_mask(X, y, W1, b1, W2, b2):
    _, H, logits = _forward(X, W1, b1, W2, b2)
    delta = _delta(logits, y)
    dZ = delta @ W2.T * torch.sign(H)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def right_softmax_without_max_subtraction(X, y, W1, b1, W2, b2):
    """exp(O) / sum exp(O), not stabilised: right, as long as no logit overflows (none does here)."""
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    E = torch.exp(logits)
    delta = (E / E.sum(dim=1, keepdim=True) - F.one_hot(y, W2.shape[1]).to(X)) / y.size(0)
    dZ = torch.where(Z > 0, delta @ W2.T, 0.0)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def right_in_place_on_its_own_tensors(X, y, W1, b1, W2, b2):
    """An in-place ReLU and an in-place one-hot subtraction, on tensors it made itself; (dZ.T @ X).T."""
    A = torch.addmm(b1, X, W1)
    torch.relu_(A)  # A is H now, and H > 0 exactly where Z > 0
    delta = torch.exp(F.log_softmax(torch.addmm(b2, A, W2), dim=1))
    delta[torch.arange(len(X), device=X.device), y] -= 1
    delta /= len(X)
    dZ = delta.mm(W2.t()) * A.gt(0)
    return [(dZ.T @ X).T, dZ.sum(0, keepdim=True).squeeze(0), A.t().mm(delta), delta.sum(axis=0)]


def right_in_float64_converted_back(X, y, W1, b1, W2, b2):
    X64, W1_64, b1_64, W2_64, b2_64 = (t.double() for t in (X, W1, b1, W2, b2))
    return tuple(g.to(X.dtype) for g in right(X64, y, W1_64, b1_64, W2_64, b2_64))


@torch.no_grad()
def right_under_no_grad_with_ones_products(X, y, W1, b1, W2, b2):
    """Bias gradients as products with a row of ones, einsum and .mT, under a no_grad decorator."""
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = (torch.softmax(logits, 1) - F.one_hot(y, logits.shape[1]).type_as(logits)) / len(X)
    dZ = torch.matmul(delta, W2.mT) * (Z > 0).float()
    ones = torch.ones(len(X), dtype=X.dtype, device=X.device)
    return torch.einsum("nd,nh->dh", X, dZ), ones @ dZ, H.mT @ delta, ones @ delta


RIGHT = [right, right_einsum, right_loop, right_eye_scatter_and_masks, right_one_over_n_at_the_end, right_sign_mask,
         right_softmax_without_max_subtraction, right_in_place_on_its_own_tensors, right_in_float64_converted_back,
         right_under_no_grad_with_ones_products]  # fmt: skip


@pytest.mark.parametrize("answer", RIGHT, ids=lambda f: f.__name__)
def test_right_answers_pass_with_the_stored_message(answer: Callable[..., Any]) -> None:
    assert check_backward(answer).message == STORED


def test_the_checkers_reference_is_the_chapters_formula() -> None:
    """The hand formulas behind the hints agree with autograd on every case (else a hint could name a right answer)."""
    for case in cases():
        by_hand = hand_backward(case)
        for name, want in zip(GRADIENTS, reference_gradients(*case.inputs()), strict=True):
            assert torch.allclose(by_hand[name], want, rtol=1e-5, atol=1e-7), (case.what, name)


def test_the_cases_hold_what_the_messages_promise() -> None:
    every = cases()
    for case in every:
        Z = case.X @ case.W1 + case.b1
        if "exactly 0" in case.what:
            assert (Z == 0).any() and ((Z == 0).all(dim=0) & (Z <= 0).all(dim=0)).any()  # zeros, and a dead unit
            assert ((Z == 0).any(dim=0) & (Z > 0).any(dim=0)).any()  # a unit exactly 0 on some rows, on on others
            assert ((Z < 0).all(dim=0) & (case.X @ case.W1 > 0).all(dim=0)).any()  # dead only because of its bias
    assert [len(c.X) for c in every] == [5, 6, 6, 1, 256, 5]
    assert every[LAB_CASE].W1.shape == (784, 256) and every[LAB_CASE].W2.shape == (256, 10)
    assert max(every[0].y.tolist()) < every[0].W2.shape[1] - 1  # the first batch lacks the last class
    first, again = every[0], every[-1]  # the first batch's sizes again, every value different
    pairs = zip(first.inputs(), again.inputs(), strict=True)
    assert all(a.shape == b.shape and not torch.equal(a, b) for a, b in pairs)


# ---------------------------------------------------------------------------
# Wrong answers: students' habits, each with the words its verdict must contain


def _with(**changes: Callable[..., Any]) -> Callable[..., Any]:
    """The right answer with one step done another way: each change gets the forward values and returns a tensor."""

    def answer(X, y, W1, b1, W2, b2):
        Z, H, logits = _forward(X, W1, b1, W2, b2)
        v = {"X": X, "y": y, "W2": W2, "Z": Z, "H": H, "O": logits, "n": len(X)}
        v["delta"] = changes.get("delta", lambda v: _delta(v["O"], v["y"]))(v)
        v["dH"] = changes.get("dH", lambda v: v["delta"] @ v["W2"].T)(v)
        v["dZ"] = changes.get("dZ", lambda v: v["dH"] * (v["Z"] > 0))(v)
        defaults = {
            "dW1": lambda v: v["X"].T @ v["dZ"],
            "db1": lambda v: v["dZ"].sum(0),
            "dW2": lambda v: v["H"].T @ v["delta"],
            "db2": lambda v: v["delta"].sum(0),
        }
        return tuple(changes.get(name, defaults[name])(v) for name in GRADIENTS)

    return answer


def _one_hot(v: dict[str, Any]) -> torch.Tensor:
    return F.one_hot(v["y"], v["O"].shape[1]).float()


def _no_num_classes(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = (torch.softmax(logits, dim=1) - F.one_hot(y).float()) / len(X)
    dZ = delta @ W2.T * (Z > 0)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def _float64_one_hot(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = (torch.softmax(logits, dim=1) - torch.eye(W2.shape[1], dtype=torch.float64)[y]) / len(X)
    dZ = delta @ W2.T.double() * (Z > 0)
    return X.T.double() @ dZ, dZ.sum(0), H.T.double() @ delta, delta.sum(0)


def _by_backward(X, y, W1, b1, W2, b2):
    params = [p.requires_grad_() for p in (W1, b1, W2, b2)]
    F.cross_entropy(torch.relu(X @ params[0] + params[1]) @ params[2] + params[3], y).backward()
    return tuple(p.grad for p in params)


def _by_autograd_grad(X, y, W1, b1, W2, b2):
    params = [p.detach().requires_grad_() for p in (W1, b1, W2, b2)]
    loss = F.cross_entropy(torch.relu(X @ params[0] + params[1]) @ params[2] + params[3], y)
    return torch.autograd.grad(loss, params)


def _by_torch_func(X, y, W1, b1, W2, b2):
    def loss(W1, b1, W2, b2):
        return F.cross_entropy(torch.relu(X @ W1 + b1) @ W2 + b2, y)

    return torch.func.grad(loss, argnums=(0, 1, 2, 3))(W1, b1, W2, b2)


def _keeping_the_graph(X, y, W1, b1, W2, b2):
    """Right formulas, but on parameters it made require grad: the results carry a graph."""
    return right(X, y, *(p.requires_grad_() for p in (W1, b1, W2, b2)))


def _squeezing(X, y, W1, b1, W2, b2):
    """Right for every batch but one of a single example, where squeeze() also drops the batch dimension."""
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = _delta(logits, y).squeeze()
    dZ = (delta @ W2.T * (Z > 0)).squeeze()
    return X.T @ dZ.reshape(len(X), -1), dZ.sum(0), H.T @ delta.reshape(len(X), -1), delta.sum(0)


def _reshaped_instead_of_transposed(X, y, W1, b1, W2, b2):
    dW1, db1, _, db2 = right(X, y, W1, b1, W2, b2)
    _, H, logits = _forward(X, W1, b1, W2, b2)
    return dW1, db1, (_delta(logits, y).T @ H).reshape(W2.shape), db2


def _mask_without_bias(X, y, W1, b1, W2, b2):
    _, H, logits = _forward(X, W1, b1, W2, b2)
    delta = _delta(logits, y)
    dZ = delta @ W2.T * (X @ W1 > 0)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def _w1_transposed_in_the_forward_pass(X, y, W1, b1, W2, b2):
    """The nn.Linear habit: W1 stored (out, in), so X @ W1.T; in the book's convention W1 is (in, out)."""
    return right(X, y, W1.T, b1, W2, b2)


def _x_not_transposed(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = _delta(logits, y)
    dZ = delta @ W2.T * (Z > 0)
    return X @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def _normalises_its_input_in_place(X, y, W1, b1, W2, b2):
    X /= 255  # "pixels are 0-255": the inputs are already scaled, and this changes the caller's X
    return right(X, y, W1, b1, W2, b2)


def _hard_coded_ten_classes(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = (torch.softmax(logits, dim=1) - F.one_hot(y, 10).float()) / len(X)
    dZ = delta @ W2.T * (Z > 0)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def _eye_of_the_largest_label(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = (torch.softmax(logits, dim=1) - torch.eye(int(y.max()) + 1)[y]) / len(X)
    dZ = delta @ W2.T * (Z > 0)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def _mask_in_float64(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = _delta(logits, y)
    dZ = delta @ W2.T * (Z > 0).double()
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def _cuda_everywhere(X, y, W1, b1, W2, b2):
    return tuple(g.cuda() for g in right(X, y, W1, b1, W2, b2))


def _mask_from_the_forward_then_bias_unmasked(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = _delta(logits, y)
    dH = delta @ W2.T
    return X.T @ (dH * (Z > 0)), dH.sum(0), H.T @ delta, delta.sum(0)


def _sigmoid_network(X, y, W1, b1, W2, b2):
    """The activations chapter's other function, by mistake: sigmoid and its derivative h(1 - h)."""
    Z = X @ W1 + b1
    H = torch.sigmoid(Z)
    delta = _delta(H @ W2 + b2, y)
    dZ = delta @ W2.T * H * (1 - H)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def _cache_by_batch_size(X, y, W1, b1, W2, b2, _kept: dict = {}):  # noqa: B006 (the cache is the mistake)
    if len(X) not in _kept:
        _kept[len(X)] = right(X, y, W1, b1, W2, b2)
    return _kept[len(X)]


def _cache_by_shapes(X, y, W1, b1, W2, b2, _kept: dict = {}):  # noqa: B006
    key = (X.shape, W1.shape, W2.shape)
    if key not in _kept:
        _kept[key] = right(X, y, W1, b1, W2, b2)
    return _kept[key]


WRONG: list[tuple[str, Callable[..., Any], list[str]]] = [
    # delta, the gradient at the logits: every gradient is off, the verdict names db2 first and the cause
    ("missing 1/n", _with(delta=lambda v: torch.softmax(v["O"], 1) - _one_hot(v)),
     ["db2 is off", "n = 5 times too large", "mean over the n examples", "Also off: dW2, db1, dW1"]),
    ("sign flipped", _with(delta=lambda v: (_one_hot(v) - torch.softmax(v["O"], 1)) / v["n"]),
     ["db2 is off", "wrong sign"]),
    ("logits for probabilities", _with(delta=lambda v: (v["O"] - _one_hot(v)) / v["n"]), ["uses the logits O"]),
    ("log-softmax", _with(delta=lambda v: (torch.log_softmax(v["O"], 1) - _one_hot(v)) / v["n"]),
     ["log-probabilities"]),
    ("no one-hot", _with(delta=lambda v: torch.softmax(v["O"], 1) / v["n"]), ["leaves out the labels"]),
    ("label values", _with(delta=lambda v: (torch.softmax(v["O"], 1) - v["y"][:, None]) / v["n"]),
     ["subtracts the label values"]),
    ("softmax over the batch", _with(delta=lambda v: (torch.softmax(v["O"], 0) - _one_hot(v)) / v["n"]),
     ["runs over the batch (dim=0)"]),
    ("divided by the classes", _with(delta=lambda v: (torch.softmax(v["O"], 1) - _one_hot(v)) / v["O"].shape[1]),
     ["number of classes q = 4"]),
    ("gradient at the probabilities", _with(delta=lambda v: -_one_hot(v) / torch.softmax(v["O"], 1) / v["n"]),
     ["with respect to the probabilities"]),
    ("F.one_hot without num_classes", _no_num_classes, ["F.one_hot(y, num_classes=4)", "line"]),
    ("softmax's derivative, diagonal only", _with(delta=lambda v: -_one_hot(v) * (1 - torch.softmax(v["O"], 1)) /
     v["n"]), ["db2 is off", "only the diagonal of the softmax's derivative", "-p_j p_k"]),
    ("squared-error factor 2", _with(delta=lambda v: 2 * _delta(v["O"], v["y"])),
     ["2 times the right gradient", "squared error"]),
    ("divided by the inputs", _with(delta=lambda v: _delta(v["O"], v["y"]) * v["n"] / v["X"].shape[1]),
     ["divided by d = 7", "X.shape[1]", "n = X.shape[0] = 5"]),
    ("divided by X.numel()", _with(delta=lambda v: _delta(v["O"], v["y"]) * v["n"] / v["X"].numel()),
     ["divided by n * d = 35 (X.numel())"]),
    ("divided by the lab's batch size", _with(delta=lambda v: _delta(v["O"], v["y"]) * v["n"] / 256),
     ["divided by 256, the lab's batch size", "n = 5"]),
    ("mean over every entry", _with(delta=lambda v: _delta(v["O"], v["y"]) / v["O"].shape[1]),
     ["1/q times", "n * q = 20"]),
    ("ten classes hard-coded", _hard_coded_ten_classes,
     ["RuntimeError", "mentions 10", "rather than writing 784, 256 or 10"]),
    ("784 inputs hard-coded", lambda X, *a: right(X.reshape(-1, 784), *a), ["mentions 784", "X.shape[1]"]),
    ("torch.eye(max(y) + 1)", _eye_of_the_largest_label,
     ["max(y) + 1 = 3 columns", "fewer than the 4 classes", "num_classes=4"]),
    ("input normalised in place", _normalises_its_input_in_place,
     ["db2 is off", "Also off: dW2, db1, dW1", "changed its argument `X` in place"]),
    # the output layer
    ("dW2 transposed", _with(dW2=lambda v: v["delta"].T @ v["H"]),
     ["dW2 has shape (4, 6), expected (6, 4)", "transpose", "H.T @ delta"]),
    ("dW2 reshaped", _reshaped_instead_of_transposed, ["dW2 is off", "reshape", "does not transpose"]),
    ("dW2 from Z", _with(dW2=lambda v: v["Z"].T @ v["delta"]), ["dW2 is off", "pre-activations"]),
    ("dW2 from X", _with(dW2=lambda v: v["X"].T @ v["delta"]),
     ["dW2 has shape (7, 4), expected (6, 4)", "output layer's input is H"]),
    ("dW2 divided twice", _with(dW2=lambda v: v["H"].T @ v["delta"] / v["n"]), ["dW2 is off", "once too often"]),
    ("db2 over the classes", _with(db2=lambda v: v["delta"].sum(1)),
     ["db2 has shape (5,), expected (4,)", "wrong axis", "delta.sum(dim=0)"]),
    ("db2 averaged", _with(db2=lambda v: v["delta"].mean(0)), ["db2 is off", "averages delta"]),
    ("db2 keepdim", _with(db2=lambda v: v["delta"].sum(0, keepdim=True)), ["db2 has shape (1, 4)", "keepdim=True"]),
    ("db2 not summed", _with(db2=lambda v: v["delta"]), ["db2 has shape (5, 4)", "one row per example"]),
    ("db2 summed to a number", _with(db2=lambda v: v["delta"].sum()), ["db2 has shape ()", "one number"]),
    # back into the hidden layer
    ("W2 not transposed", _with(dH=lambda v: v["delta"] @ v["W2"]),
     ["RuntimeError", "shapes cannot be multiplied", "a 5×4 matrix (O, P or delta) by a 6×4 one (W2)",
      "dH = delta @ W2.T"]),
    ("W1 transposed in the forward pass", _w1_transposed_in_the_forward_pass,
     ["a 5×7 matrix (X) by a 6×7 one (W1.T)", "Z = X @ W1, with no transpose"]),
    ("X not transposed", _x_not_transposed, ["a 5×7 matrix (X) by a 5×6 one", "dW1 = X.T @ dZ"]),
    ("no mask", _with(dZ=lambda v: v["dH"]), ["db1 is off", "no ReLU derivative", "Also off: dW1"]),
    ("mask H >= 0", _with(dZ=lambda v: v["dH"] * (v["H"] >= 0)), ["no ReLU derivative", "H >= 0 is true everywhere"]),
    ("mask Z >= 0", _with(dZ=lambda v: v["dH"] * (v["Z"] >= 0)),
     ["pre-activations exactly 0, db1 is off", "exactly 0", "Z > 0"]),
    ("times H", _with(dZ=lambda v: v["dH"] * v["H"]), ["the activation itself"]),
    ("times Z", _with(dZ=lambda v: v["dH"] * v["Z"]), ["multiplies dH by Z"]),
    ("mask without the bias", _mask_without_bias, ["leaves out b1", "Z = X @ W1 + b1"]),
    ("mask from the gradient", _with(dZ=lambda v: v["dH"] * (v["dH"] > 0)), ["sign of the gradient"]),
    ("sigmoid for ReLU", _sigmoid_network, ["db2 is off", "uses the sigmoid", "H = relu(Z)"]),
    ("torch.sign(Z) as the mask", _with(dZ=lambda v: v["dH"] * torch.sign(v["Z"])), ["torch.sign(Z)", "not -1"]),
    ("half at 0", _with(dZ=lambda v: v["dH"] * torch.heaviside(v["Z"], torch.tensor(0.5))),
     ["pre-activations exactly 0, db1 is off", "half the gradient"]),
    ("a float64 mask", _mask_in_float64, ["RuntimeError", "another dtype", ".to(X.dtype)"]),
    ("bias gradient unmasked", _mask_from_the_forward_then_bias_unmasked,
     ["db1 is off", "no ReLU derivative"]),
    ("dW1 transposed", _with(dW1=lambda v: v["dZ"].T @ v["X"]), ["dW1 has shape (6, 7), expected (7, 6)", "X.T @ dZ"]),
    ("dW1 from H", _with(dW1=lambda v: v["H"].T @ v["dZ"]),
     ["dW1 has shape (6, 6), expected (7, 6)", "first layer's input is X"]),
    ("dW1 divided twice", _with(dW1=lambda v: v["X"].T @ v["dZ"] / v["n"]), ["dW1 is off", "once too often"]),
    ("db1 over the units", _with(db1=lambda v: v["dZ"].sum(1)), ["db1 has shape (5,), expected (6,)", "wrong axis"]),
    ("db1 averaged", _with(db1=lambda v: v["dZ"].mean(0)), ["db1 is off", "averages dZ"]),
    ("db1 keepdim", _with(db1=lambda v: v["dZ"].sum(0, keepdim=True)), ["db1 has shape (1, 6)", "keepdim"]),
    ("squeeze breaks a batch of one", _squeezing, ["batch of one", "db2 has shape ()", "one number"]),
    # what comes back
    ("another order", lambda *a: (lambda g: (g[2], g[3], g[0], g[1]))(right(*a)), ["another order", "dW1, db1"]),
    ("a dict", lambda *a: dict(zip(GRADIENTS, right(*a), strict=True)), ["returns a dict"]),
    ("three values", lambda *a: right(*a)[:3], ["returns 3 values"]),
    ("no return", lambda *a: None, ["returns None", "return"]),
    ("NumPy arrays", lambda *a: tuple(g.numpy() for g in right(*a)), ["dW1 is a numpy.ndarray"]),
    ("float64", _float64_one_hot, ["db2 has dtype torch.float64, expected torch.float32", ".to(X.dtype)"]),
    ("float16", lambda *a: tuple(g.half() for g in right(*a)), ["db2 has dtype torch.float16"]),
    ("Python lists", lambda *a: tuple(g.tolist() for g in right(*a)), ["dW1 is a builtins.list"]),
    ("a generator", lambda *a: (g for g in right(*a)), ["type generator", "return dW1, db1, dW2, db2"]),
    ("another order, biases first", lambda *a: (lambda g: (g[1], g[0], g[3], g[2]))(right(*a)), ["another order"]),
    ("nn.Parameter results", lambda *a: tuple(torch.nn.Parameter(g) for g in right(*a)),
     ["requires grad", "nn.Parameter", "without wrapping it"]),
    ("a batch dimension too many", lambda *a: (lambda g: (g[0][None], *g[1:]))(right(*a)),
     ["dW1 has shape (1, 7, 6), expected (7, 6)"]),
    # results kept from one call to the next
    ("cached by batch size", _cache_by_batch_size,
     ["two dead units", "already returned for a batch of 6 with 6 inputs", "keep nothing from one call"]),
    ("cached by shapes", _cache_by_shapes,
     ["second batch of 5", "already returned for a batch of 5 (7 inputs", "keep nothing from one call"]),
    # autograd, whichever way it is called, even with right values
    ("loss.backward()", _by_backward, ["calls autograd (loss.backward(), torch.autograd.grad or torch.func)"]),
    ("torch.autograd.grad", _by_autograd_grad, ["calls autograd (loss.backward(), torch.autograd.grad or torch.func)"]),
    ("torch.func.grad", _by_torch_func, ["calls autograd (loss.backward(), torch.autograd.grad or torch.func)"]),
    ("results that require grad", _keeping_the_graph, ["requires grad", "plain tensors"]),
    # .cuda() for every result: an error without a GPU, a tensor on the wrong device with one
    ("unconditional .cuda()", _cuda_everywhere, ["On a batch of 5", "inputs' device"]),
]



@functools.cache
def _verdict(name: str) -> CheckResult:
    """The check's verdict on the wrong answer called ``name`` (each answer is checked once per session)."""
    return check_backward(next(answer for n, answer, _ in WRONG if n == name))


@pytest.mark.parametrize(("name", "phrases"), [(w[0], w[2]) for w in WRONG], ids=[w[0] for w in WRONG])
def test_wrong_answer_is_told_which_gradient_and_how(name: str, phrases: list[str]) -> None:
    result = _verdict(name)
    assert result.status == "wrong", result.message
    assert result.message.startswith("✘ backward: not yet. ")
    for phrase in phrases:
        assert phrase in result.message, f"{phrase!r} not in {result.message!r}"


def test_there_are_many_habits_and_only_equivalent_ones_share_a_verdict() -> None:
    by_verdict: dict[str, set[str]] = {}
    for name, _, _ in WRONG:
        by_verdict.setdefault(_verdict(name).message, set()).add(name)
    shared = [names for names in by_verdict.values() if len(names) > 1]
    assert len(WRONG) >= 25
    autograd = {"loss.backward()", "torch.autograd.grad", "torch.func.grad"}
    # Autograd, however it is called (the first call of torch.func can run out of time on a busy machine, which
    # gets a verdict of its own), and H >= 0, which holds everywhere: the same gradients as no mask at all.
    assert all(names <= autograd or names == {"mask H >= 0", "no mask"} for names in shared), shared


def test_an_answer_that_calls_autograd_and_then_fails_is_told_about_autograd() -> None:
    def failing(X, y, W1, b1, W2, b2):
        _by_autograd_grad(X, y, W1, b1, W2, b2)
        raise ValueError("something after autograd")

    def wrong_values(X, y, W1, b1, W2, b2):
        return tuple(2 * g for g in _by_autograd_grad(X, y, W1, b1, W2, b2))

    for answer in (failing, wrong_values, lambda *a: _by_autograd_grad(*a)[0]):
        assert check_backward(answer).message == (
            "✘ backward: not yet. It calls autograd (loss.backward(), torch.autograd.grad or torch.func), which this "
            "exercise asks you not to use: compute the four gradients from the formulas of the chapter, with matrix "
            "products, a mask and sums."
        )


def test_the_stub_is_not_attempted() -> None:
    def backward(X, y, W1, b1, W2, b2):
        # your code here
        raise NotImplementedError

    result = check_backward(backward)
    assert result.status == "not attempted" and "not attempted yet" in result.message


def test_none_and_values_are_no_function() -> None:
    assert "You passed None" in check_backward(None).message
    assert "Expected a function" in check_backward(right(*cases()[0].inputs())).message


def test_an_error_names_the_readers_line() -> None:
    def backward(X, y, W1, b1, W2, b2):
        Z = X @ W1 + b1
        return Z @ W1

    message = check_backward(backward).message
    assert "On a batch of 5 (7 inputs, 6 hidden units, 4 classes): Calling it raised RuntimeError" in message
    assert "`return Z @ W1`" in message


def test_an_endless_answer_is_stopped() -> None:
    def backward(X, y, W1, b1, W2, b2):
        while True:
            pass

    message = check_backward(backward, time_limit=0.5).message
    assert "did not return within 0.5 s, so the check stopped it" in message


def test_answer_right_only_on_its_first_call_is_wrong() -> None:
    first: list[Any] = []

    def backward(X, y, W1, b1, W2, b2):
        if not first:
            first.append(right(X, y, W1, b1, W2, b2))
        return first[0]

    assert check_backward(backward).status == "wrong"


# ---------------------------------------------------------------------------
# The notebook's state


def test_the_notebooks_random_state_grad_mode_and_default_dtype_are_kept() -> None:
    def meddling(X, y, W1, b1, W2, b2):
        torch.manual_seed(1234)
        random.seed(5)
        np.random.seed(6)
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        return right(X, y, W1, b1, W2, b2)

    torch.manual_seed(99)
    random.seed(98)
    np.random.seed(97)
    before = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    with torch.no_grad():
        result = check_backward(meddling)
        assert not torch.is_grad_enabled()
    assert result.message == STORED  # its inputs are float32, so its results are too
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]
    assert np.array_equal(np.random.get_state()[1], before[2])
    assert torch.get_default_dtype() == torch.float32 and torch.is_grad_enabled()


def test_an_answer_that_changes_its_inputs_is_judged_on_what_it_returns_with_a_note() -> None:
    def backward(X, y, W1, b1, W2, b2):
        grads = right(X, y, W1, b1, W2, b2)
        W2.zero_()
        return grads

    result = check_backward(backward)
    assert result.passed and result.message.startswith(STORED)
    assert "changed its argument `W2` in place" in result.message


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_right_answer_passes_with_gradients_off(mode: str) -> None:
    with getattr(torch, mode)():
        assert check_backward(right).message == STORED


# ---------------------------------------------------------------------------
# The GPU: the check runs there too, and catches tensors made on the CPU


def _eye_on_the_cpu(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    delta = (torch.softmax(logits, dim=1) - torch.eye(W2.shape[1])[y.cpu()].to(logits.device)) / len(X)
    dZ = (delta @ W2.T) * (Z > 0).cpu()
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def test_without_a_gpu_the_check_runs_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert checks_backprop._devices() == [torch.device("cpu")]
    assert check_backward(_eye_on_the_cpu).passed  # on the CPU, nothing tells it apart


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_right_answers_pass_and_cpu_tensors_are_caught() -> None:
    assert checks_backprop._devices()[-1].type == "cuda"
    for answer in RIGHT:
        assert check_backward(answer).message == STORED, answer.__name__
    message = check_backward(_eye_on_the_cpu).message
    assert "lab's sizes (784 inputs, 256 hidden units, 10 classes), on cuda" in message
    assert "device" in message
    case = cases()[LAB_CASE].to("cuda")
    for name, want in zip(GRADIENTS, reference_gradients(*case.inputs()), strict=True):
        assert want.device.type == "cuda" and torch.allclose(hand_backward(case)[name], want, atol=1e-6), name


def _softmax_in_numpy(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    E = np.exp(logits.numpy())
    P = torch.from_numpy(E / E.sum(axis=1, keepdims=True))
    delta = (P - F.one_hot(y, W2.shape[1]).to(P.dtype)) / len(X)
    dZ = delta @ W2.T * (Z > 0)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


def _one_hot_filled_on_the_cpu(X, y, W1, b1, W2, b2):
    Z, H, logits = _forward(X, W1, b1, W2, b2)
    Y = torch.zeros(len(X), W2.shape[1])
    Y[torch.arange(len(X)), y] = 1.0
    delta = (torch.softmax(logits, dim=1) - Y) / len(X)
    dZ = delta @ W2.T * (Z > 0)
    return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("answer", [_softmax_in_numpy, _one_hot_filled_on_the_cpu, _cuda_everywhere])
def test_on_a_gpu_each_cpu_habit_is_told_about_the_device(answer: Callable[..., Any]) -> None:
    message = check_backward(answer).message
    assert message.startswith("✘ backward: not yet. On ") and "device" in message, message
    if answer is not _cuda_everywhere:  # right on the CPU batches: only the GPU run tells
        assert "on cuda" in message, message


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_with_tensorfloat32_right_answers_pass_and_mistakes_are_named() -> None:
    """A notebook may switch TF32 on for speed: float32 products then round to 10 bits, autograd's and the answer's."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        for answer in RIGHT:
            assert check_backward(answer).message == STORED, answer.__name__
        assert "n = 5 times too large" in _verdict("missing 1/n").message
        assert "exactly 0" in check_backward(next(a for n, a, _ in WRONG if n == "mask Z >= 0")).message
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


# ---------------------------------------------------------------------------
# Rounding: the check allows for products that round more than float32's, and only then


def test_on_the_default_settings_the_tolerance_is_float32_rounding() -> None:
    for case in cases():
        want = dict(zip(GRADIENTS, reference_gradients(*case.inputs()), strict=True))
        assert checks_backprop._tolerance(case, want) == dict.fromkeys(GRADIENTS, checks_backprop._RTOL), case.what


def test_where_products_round_more_a_right_answer_passes_and_a_mistake_is_still_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rounding every float32 gradient to bfloat16 (8-bit mantissas) stands in for TF32's rounding on a GPU."""
    exact = checks_backprop.reference_gradients

    def rounded(X: torch.Tensor, y: torch.Tensor, *params: torch.Tensor) -> Tensors:
        grads = exact(X, y, *params)
        return tuple(g.bfloat16().float() if g.dtype == torch.float32 else g for g in grads)

    def right_rounded_its_own_way(*inputs: torch.Tensor) -> Tensors:
        return tuple((g * (1 + 2**-9)).bfloat16().float() for g in right(*inputs))

    assert check_backward(right_rounded_its_own_way).status == "wrong"  # at float32's tolerance, these differ
    monkeypatch.setattr(checks_backprop, "reference_gradients", rounded)
    assert check_backward(right_rounded_its_own_way).message == STORED
    missing = next(answer for name, answer, _ in WRONG if name == "missing 1/n")
    assert "n = 5 times too large" in check_backward(missing).message


def test_the_first_cublas_use_warns_in_a_thread_of_its_own_and_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a GPU the answer runs in a worker thread without a CUDA context: PyTorch's one-time warning about it must
    not be reported as the reader's output. (Simulated: the real warning comes once per process.)"""
    calls: list[str] = []

    def blas_handle() -> int:
        calls.append(threading.current_thread().name)
        warnings.warn("Attempting to run cuBLAS, but there was no current CUDA context!", UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(torch.cuda, "current_blas_handle", blas_handle)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        checks_backprop._first_cublas_use_silenced(torch.device("cpu"))
        assert calls == []  # nothing to do on the CPU
        checks_backprop._first_cublas_use_silenced(torch.device("cuda"))
    assert calls == ["d2lmini-check-cublas"] and seen == []


def test_a_one_hot_wide_enough_gets_no_hint_about_missing_columns() -> None:
    """A one-hot matrix kept from the first call (4 columns) meets a batch with 6 classes: no false hint."""
    kept: list[torch.Tensor] = []

    def backward(X, y, W1, b1, W2, b2):
        Z, H, logits = _forward(X, W1, b1, W2, b2)
        if not kept:
            kept.append(F.one_hot(y, W2.shape[1]).float())
        delta = (torch.softmax(logits, dim=1) - kept[0]) / len(X)
        dZ = delta @ W2.T * (Z > 0)
        return X.T @ dZ, dZ.sum(0), H.T @ delta, delta.sum(0)

    message = check_backward(backward).message
    assert "On a batch of 6 with 6 inputs" in message and "RuntimeError" in message and "`delta = " in message
    assert "fewer than" not in message and "num_classes" not in message
