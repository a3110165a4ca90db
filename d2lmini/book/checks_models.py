"""Checkers for the labs' models: the scratch MLP's forward, a network built from layers, and dead units.

A network is judged by the function it computes, on inputs chosen so that each claim holds whatever its weights
happen to be: whether it collapses into one affine map is decided on images of every brightness, where each
ReLU unit (whatever its bias) is switched off by some of them; whether it is deterministic in eval mode, by
running it twice. The answer may live on any device (a GPU on Colab): every probe goes to the model's device.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from d2lmini.book.checking import (
    Fail,
    Trial,
    checker,
    expect_int,
    expect_tensor,
    failing_line,
    fmt,
    notebook_namespace,
    written_by_reader,
    wrong,
)
from d2lmini.module import count_parameters, mlp_parameter_count

__all__ = ["check_build_mlp", "check_count_dead", "check_mlp_forward"]


def _product_shapes(error: BaseException | None) -> tuple[int, int, int, int] | None:
    """The shapes ``(a, b, c, d)`` in "mat1 and mat2 shapes cannot be multiplied (axb and cxd)", if that is it."""
    found = re.search(r"cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)", str(error)) if error else None
    return tuple(int(n) for n in found.groups()) if found else None  # type: ignore[return-value]


def _device_of(module: nn.Module) -> torch.device:
    """Where ``module`` computes: the device of its first parameter or buffer (the CPU if it has none)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


class _RandomCalls(TorchFunctionMode):
    """Notes, in one thread, the torch calls that make a forward pass random: a dropout told it is training, or a
    draw of random numbers."""

    DRAWS = frozenset({"rand", "randn", "rand_like", "randn_like", "randint", "bernoulli", "normal", "multinomial"})

    def __init__(self, seen: list[str]) -> None:
        super().__init__()
        self.seen = seen

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name, kwargs = getattr(func, "__name__", ""), kwargs or {}
        training = kwargs.get("training", kwargs.get("train", args[2] if len(args) > 2 else True))
        if ("dropout" in name and bool(training)) or name in self.DRAWS:
            self.seen.append("dropout" if "dropout" in name else name)
        return func(*args, **kwargs)


def _recorded(model: Callable[..., Any], seen: list[str]) -> Callable[..., Any]:
    def run(X: torch.Tensor) -> Any:
        with _RandomCalls(seen):
            return model(X)

    return run


def _expect_deterministic(first: Any, second: Any, seen: list[str], what: str) -> None:
    """Refuse a model whose two calls on the same images in eval mode disagree, naming the random call it made."""
    if not (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) and first.shape == second.shape):
        return
    if "meta" in (first.device.type, second.device.type) or first.device != second.device:
        return
    if torch.equal(first.detach(), second.detach()):
        return
    if "dropout" in seen:
        cause = (
            "a dropout that stays on: F.dropout(x, p) is told it is training unless you pass training=self.training "
            "(nn.Dropout, a layer, follows the model's mode by itself)"
        )
    elif seen:
        cause = f"random numbers drawn in forward ({seen[0]}), which no forward pass should use"
    else:
        cause = "something in forward changes from call to call (random numbers, or state kept between calls)"
    raise wrong(
        f"{what} gives different logits for the same images on two calls in eval mode: {cause}. In eval mode the "
        "same image must always give the same logits."
    )


# ---------------------------------------------------------------------------
# The scratch lab's model: its forward


def _missing_forward(model_class: type) -> str:
    """Why ``model_class`` has no forward of its own, told from the notebook's names and the order its cells ran."""
    name = model_class.__name__
    namespace = notebook_namespace(model_class)
    history = namespace.get("In")
    cells = [cell for cell in history if isinstance(cell, str)] if isinstance(history, list) else []
    class_cells = [i for i, cell in enumerate(cells) if re.search(rf"^class {name}\b", cell, re.MULTILINE)]
    forward_cells = [i for i, cell in enumerate(cells) if re.search(r"^\s*def forward\(", cell, re.MULTILINE)]
    attached = [i for i in forward_cells if f"add_to_class({name})" in cells[i]]
    why = f"{name} has no forward of its own, so the model cannot compute its logits."
    rerun = (
        f" The cell with `class {name}` ran again after your forward cell: that makes a new class, without the "
        "forward added to the old one. Run your forward cell again, then this check."
    )
    detached = (
        f" Your `def forward` is a plain function, not attached to the class: put @d2lmini.add_to_class({name}) on "
        "the line above it (or write it inside the class), then run that cell again."
    )
    if attached and class_cells and class_cells[-1] > attached[-1]:
        return why + rerun
    if forward_cells and not attached:
        return why + detached
    if callable(namespace.get("forward")) and not cells:
        return why + (
            f" A function `forward` exists in your notebook but is not part of {name}: either "
            f"@d2lmini.add_to_class({name}) is missing above `def forward`, or the class cell ran again after your "
            "forward cell (which makes a new class without it). Run your forward cell again, then this check."
        )
    names = [n for n in (*vars(model_class), *namespace) if isinstance(n, str) and not n.startswith("_")]
    close = difflib.get_close_matches("forward", names, n=1, cutoff=0.75)
    if close and close[0] != "forward":
        return why + f" `{close[0]}` looks like a misspelt forward: the method must be called `forward`."
    return why + (
        f" Write it in the exercise's cell, with @d2lmini.add_to_class({name}) above `def forward(self, X):`, and "
        "run that cell, then this check."
    )


def _expect_gradients(model: nn.Module, out: torch.Tensor, flat: torch.Tensor, batch: int, trial: Trial) -> None:
    """Check that the lab model's logits ``out`` on the flattened images ``flat`` carry autograd's gradient to
    each of its four parameters, as training needs."""
    names = ("W1", "b1", "W2", "b2")
    params = {n: getattr(model, n) for n in names}
    _expect_learnable(
        params,
        out,
        frozen="The model's {names} do not require gradients, so training could not change them: keep "
        "the lab's __init__, which makes them nn.Parameters.",
        detached="The logits are right but carry no gradient, so training could not change the weights: compute "
        "them from the parameters with torch operations, without torch.no_grad(), .detach(), .data or NumPy.",
    )
    refs = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
    reference = torch.relu(flat @ refs["W1"] + refs["b1"]) @ refs["W2"] + refs["b2"]
    weights = torch.randn(reference.shape, generator=torch.Generator().manual_seed(batch)).to(reference)
    expected = torch.autograd.grad(reference, list(refs.values()), weights)
    grads = trial.call(
        torch.autograd.grad, out, list(params.values()), weights, allow_unused=True, doing="Computing its gradient"
    )
    for name, grad, want in zip(names, grads, expected, strict=True):
        if grad is None or not torch.allclose(grad, want, rtol=1e-3, atol=1e-5):
            how = "no gradient reaches" if grad is None else "the gradient is off for"
            raise wrong(
                f"The logits are right but {how} self.{name}, so training would not update it as it should: use "
                f"self.{name} itself in the computation, without .detach(), .data or torch.no_grad()."
            )


_FIXED_BATCH = re.compile(r"\b(reshape|view)\(\s*\d+\s*,")  # X.reshape(4, 784): a batch size written as a number


def _forward_failed(fail: Fail, model: Any, X: torch.Tensor, W1: torch.Tensor, W2: torch.Tensor, trial: Trial) -> Fail:
    """The verdict on a forward pass that raised on images ``X``: if it runs on the same images flattened, the
    flattening is what is missing; if a matrix product fails on them too, a factor has the wrong shape."""
    if not isinstance(fail.error, RuntimeError | ValueError):
        return fail
    if _FIXED_BATCH.search(failing_line(fail.error)[0]):
        return wrong(
            f"{fail.why} The number of images changes from batch to batch (this one has {len(X)}): write "
            "X.reshape(-1, 784), and -1 stands for however many there are."
        )
    try:
        trial.call(model, X.reshape(len(X), -1))
    except Fail as again:
        line = failing_line(again.error)[0] if again.error is not None else ""
        shapes = _product_shapes(again.error)
        if shapes is None and not re.search(r"@|\bmatmul\b|\bmm\b|F\.linear", line):
            return fail
        factors = (
            "The images are flattened already (one row per image); look at the other factor"
            if shapes is not None and shapes[:2] == (len(X), W1.shape[0])
            else "A matrix product gets factors whose shapes do not fit: X must be (batch, 784), one row per image"
        )
        return wrong(
            f"{fail.why} {factors}: self.W1 has shape {tuple(W1.shape)} and self.W2 {tuple(W2.shape)}, so "
            "X @ self.W1 and H @ self.W2 need no transpose."
        )
    return wrong(fail.why + " Did you flatten the images first, with X.reshape(-1, 784)? It runs on flattened images.")


@checker("forward", example="check_mlp_forward(MLPScratch)", expects="class")
def check_mlp_forward(model_class: type, trial: Trial) -> str:
    """``model_class(num_inputs, num_hiddens, num_outputs, lr)`` whose ``forward`` gives the MLP's logits."""
    if not written_by_reader(getattr(model_class, "forward", None)):
        raise wrong(_missing_forward(model_class))
    torch.manual_seed(0)
    model = trial.call(model_class, num_inputs=784, num_outputs=10, num_hiddens=16, lr=0.1, doing="Creating the model")
    missing = [n for n in ("W1", "b1", "W2", "b2") if not isinstance(getattr(model, n, None), torch.Tensor)]
    if missing:
        raise wrong(f"The model has no tensor attribute {', '.join(missing)}: keep the lab's __init__ as it is.")
    gen = torch.Generator().manual_seed(1)
    params = [model.W1, model.b1, model.W2, model.b2]
    with torch.no_grad():  # larger weights than at init, so that every mistake shows
        for p in params:
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    W1, b1, W2, b2 = (p.detach().clone() for p in params)
    if isinstance(model, nn.Module):
        model.eval()  # the lab's model has no dropout: eval mode changes nothing for a right forward
    for batch in (4, 3):
        X = torch.rand(batch, 1, 28, 28, generator=gen).to(W1.device)
        flat = X.reshape(-1, 784)
        expected = torch.relu(flat @ W1 + b1) @ W2 + b2
        seen: list[str] = []
        try:
            out = trial.call(_recorded(model, seen), X.clone())
            again = trial.call(_recorded(model, seen), X.clone())
        except Fail as fail:
            raise _forward_failed(fail, model, X, W1, W2, trial) from None
        _expect_deterministic(out, again, seen, "The model")
        got = expect_tensor(out, expected, what=f"On images of shape ({batch}, 1, 28, 28) it")
        if torch.allclose(got, expected, atol=1e-4):
            _expect_gradients(model, out, flat, batch, trial)
            continue
        z1, no_softmax = flat @ W1, "return logits, the loss applies the softmax."
        mistakes = {
            f"It returns probabilities (softmax); {no_softmax}": torch.softmax(expected, dim=1),
            f"It returns log-probabilities (log_softmax); {no_softmax}": torch.log_softmax(expected, dim=1),
            "There is no ReLU between the layers, so the model collapses to one linear layer.": (z1 + b1) @ W2 + b2,
            "The biases b1 and b2 are missing.": torch.relu(z1) @ W2,
            "The bias b1 is missing.": torch.relu(z1) @ W2 + b2,
            "The bias b2 is missing.": torch.relu(z1 + b1) @ W2,
            "It applies a ReLU to the logits too; they must stay free to be negative.": torch.relu(expected),
            "It adds b1 after the ReLU; the bias belongs inside it: ReLU(X @ W1 + b1).": (torch.relu(z1) + b1) @ W2
            + b2,
            "It uses a sigmoid as the hidden nonlinearity; the exercise asks for ReLU.": torch.sigmoid(z1 + b1) @ W2
            + b2,
        }
        for why, mistaken in mistakes.items():
            if torch.allclose(got, mistaken, atol=1e-4) and not torch.allclose(mistaken, expected, atol=1e-4):
                raise wrong(why)
        raise wrong(
            f"The logits of the first image are off: expected {fmt(expected[0, :3])}... got {fmt(got[0, :3])}..."
        )
    return "It flattens the images, applies W1, b1, ReLU, W2, b2 and returns logits."


# ---------------------------------------------------------------------------
# A network built from layers


def _is_affine(f_a: torch.Tensor, f_b: torch.Tensor, f_mid: torch.Tensor) -> bool:
    """True if the outputs at midpoints are the averages of the outputs at the ends (up to float error)."""
    scale = float(torch.cat([f_a, f_b]).abs().max())
    return bool(((f_mid - (f_a + f_b) / 2).abs().max()) <= 1e-5 + 1e-4 * scale)


def _with_midpoints(ends: torch.Tensor) -> torch.Tensor:
    """16 images, then the 8 midpoints of the pairs (image i, image i + 8)."""
    return torch.cat([ends, (ends[:8] + ends[8:]) / 2])


def _switching_probes(gen: torch.Generator) -> list[torch.Tensor]:
    """Images (pixels >= 0) that switch every ReLU unit of a first layer off on some of them, whatever its bias.

    Each image lights a random 5% of the pixels. A unit's input w.x + b changes sign from image to image once
    the lit pixels outweigh the bias, which brighter images (x 30, x 1000) ensure for any bias a network starts
    with; a network that is affine on all of them is affine on images, however its units are set up.
    """
    lit = (torch.rand(16, 1, 28, 28, generator=gen) < 0.05) * torch.rand(16, 1, 28, 28, generator=gen)
    return [_with_midpoints(lit * scale) for scale in (1.0, 30.0, 1000.0)]


def _layer_failed(net: nn.Module, started: list[tuple[nn.Module, Any]], finished: int, batch: int) -> str:
    """What the layer that failed on images of shape (batch, 1, 28, 28) received, and what it expected."""
    if len(started) <= finished:
        return ""
    layer, inputs = started[-1]
    x = inputs[0] if isinstance(inputs, tuple) and inputs and isinstance(inputs[0], torch.Tensor) else None
    weight = getattr(layer, "weight", None)
    if x is None or not isinstance(weight, torch.Tensor) or isinstance(weight, nn.parameter.UninitializedParameter):
        return ""
    if weight.is_floating_point() and x.dtype != weight.dtype:
        return (
            f" The images are {x.dtype} but {type(layer).__name__}'s weights are {weight.dtype} (.double() or a "
            "dtype= argument?): keep the network in float32, PyTorch's default."
        )
    if not isinstance(layer, nn.Linear):
        return ""
    if x.dim() > 2:
        return (
            " Each image must become one row of 784 numbers before the first linear layer: start with nn.Flatten(), "
            "which keeps the batch dimension and flattens the rest."
        )
    if x.dim() < 2 or x.shape[0] != batch:
        return (
            f" A linear layer receives shape {tuple(x.shape)}, which has lost the batch dimension: nn.Flatten() "
            f"keeps it, giving ({batch}, 784) (nn.Flatten(0), or flatten() without arguments, flattens the batch in)."
        )
    first = next((m for m in net.modules() if isinstance(m, nn.Linear)), None)
    if layer is first and layer.in_features != 784:
        return (
            f" Each image has 28 x 28 = 784 pixels, so the first linear layer takes 784 inputs, not "
            f"{layer.in_features} (nn.LazyLinear finds out)."
        )
    if layer is first:
        return f" The first linear layer receives {x.shape[-1]} numbers per image; each image has 784 pixels."
    return (
        f" A layer receives {x.shape[-1]} numbers per image but expects {layer.in_features}: each linear layer's "
        "number of inputs must be the number of outputs of the layer before it (nn.LazyLinear finds out)."
    )


def _expect_learnable(params: dict[str, torch.Tensor], out: torch.Tensor, *, frozen: str, detached: str) -> None:
    """Refuse parameters that do not require gradients (``frozen`` names up to four of them as ``{names}``) and
    an output ``out`` that carries no gradient (``detached``): training could change neither."""
    names = [name for name, p in params.items() if not p.requires_grad]
    if names:
        raise wrong(frozen.format(names=", ".join(names[:4])))
    if not out.requires_grad:
        raise wrong(detached)


def _expect_trainable(net: nn.Module, out: torch.Tensor, trial: Trial) -> None:
    """Check that training could change every parameter of ``net``, whose output on a batch is ``out``."""
    _expect_learnable(
        dict(net.named_parameters()),
        out,
        frozen="Its parameters {names} do not require gradients (requires_grad=False), so training could not "
        "change them: leave them learnable.",
        detached="Its logits carry no gradient, so training could not change its weights: do not compute them "
        "under torch.no_grad() or detach them.",
    )
    named = list(net.named_parameters())
    grads = trial.call(
        torch.autograd.grad, out.sum(), [p for _, p in named], allow_unused=True, doing="Computing its gradient"
    )
    unused = [name for (name, _), grad in zip(named, grads, strict=True) if grad is None]
    if unused:
        raise wrong(
            f"No gradient reaches its parameters {', '.join(unused[:4])}, so training could not change them: does "
            "its forward detach something, or leave a layer out?"
        )


def _run_network(net: nn.Module, trial: Trial, batch: torch.Tensor) -> tuple[torch.Tensor, list[Any]]:
    """Run ``net`` on ``batch`` twice in eval mode; its output and the leaf modules that ran, with their outputs."""
    shape = tuple(batch.shape)
    ran: list[tuple[nn.Module, torch.Tensor | None]] = []  # leaf modules in the order they ran, with outputs
    started: list[tuple[nn.Module, Any]] = []

    def record(module: nn.Module, args: Any, output: Any) -> None:
        ran.append((module, output.detach() if isinstance(output, torch.Tensor) else None))

    leaves = [m for m in net.modules() if not list(m.children()) or list(m.parameters(recurse=False))]
    hooks = [m.register_forward_hook(record) for m in leaves]
    hooks += [m.register_forward_pre_hook(lambda m, args: started.append((m, args))) for m in leaves]
    modes = {m: m.training for m in net.modules()}
    net.eval()  # dropout off: the same image must always give the same logits
    seen: list[str] = []
    try:
        out = trial.call(_recorded(net, seen), batch, doing=f"Running it on images of shape {shape}")
        finished = len(ran)
        again = trial.call(_recorded(net, seen), batch.clone(), doing=f"Running it on images of shape {shape}")
    except Fail as fail:
        raise fail.hinted(_layer_failed(net, started, len(ran), shape[0])) from None
    finally:
        for hook in hooks:
            hook.remove()
        for m, mode in modes.items():
            m.training = mode
    _expect_deterministic(out, again, seen, "It")
    return out, ran[:finished]


def _collapses(net: nn.Module, trial: Trial, out: torch.Tensor, probes: Sequence[torch.Tensor]) -> bool:
    """True if ``net`` is affine on the random images (whose outputs are ``out``) and on every switching probe."""
    if not _is_affine(out[:8], out[8:16], out[16:]):
        return False
    modes = {m: m.training for m in net.modules()}
    net.eval()
    try:
        for images in probes:
            got = trial.call(net, images, doing=f"Running it on images of shape {tuple(images.shape)}")
            if not isinstance(got, torch.Tensor) or got.shape != out.shape:
                return False
            got = got.detach()
            if not _is_affine(got[:8], got[8:16], got[16:]):
                return False
    finally:
        for m, mode in modes.items():
            m.training = mode
    return True


def _probe_network(net: nn.Module, trial: Trial, h: int, gen: torch.Generator) -> str:
    """Judge the function one built network computes; return the names of its hidden nonlinearity."""
    device = _device_of(net)
    batch = _with_midpoints(torch.rand(16, 1, 28, 28, generator=gen)).to(device)  # 8 pairs, then their midpoints
    probes = [images.to(device) for images in _switching_probes(gen)]
    shape = tuple(batch.shape)
    out, ran = _run_network(net, trial, batch)
    if isinstance(out, torch.Tensor) and out.dim() > 2:
        raise wrong(
            f"On images of shape {shape} it returns shape {tuple(out.shape)}, expected "
            f"({shape[0]}, 10): start with nn.Flatten()."
        )
    raw, out = out, expect_tensor(out, torch.empty(shape[0], 10, device=device), what=f"On images of shape {shape} it")
    n, want = count_parameters(net, trainable_only=False), mlp_parameter_count([784, h, 10])
    if n != want:
        raise wrong(f"With {h} hidden units it has {n} parameters, expected {want} (784-{h}-10).")
    if torch.allclose(out.sum(dim=1), torch.ones_like(out[:, 0]), atol=1e-4):
        raise wrong("Its rows sum to 1: it ends in a softmax. Return logits; the loss applies it.")
    if torch.allclose(out, out[:1].expand_as(out)):
        raise wrong(
            "It gives the same logits for every image, so it cannot tell them apart: are its weights all zero "
            "(or all equal)? Keep PyTorch's random initialisation."
        )
    with_params = [i for i, (m, _) in enumerate(ran) if list(m.parameters(recurse=False))]
    last_output = ran[with_params[-1]][1] if with_params else None
    if _collapses(net, trial, out, probes):
        raise wrong(
            "On every pair of images it was given (faint or bright, pixels >= 0), its logits at their midpoint are "
            "the average of theirs: it computes an affine function of the pixels, so its two linear layers collapse "
            "into one. Put a nonlinearity such as nn.ReLU() between them (before the first linear layer it would "
            "only see pixels, which are >= 0 already, and change nothing)."
        )
    if last_output is not None and last_output.shape == out.shape and not torch.allclose(last_output, out):
        after = [type(m).__name__ for m, _ in ran[with_params[-1] + 1 :]]
        culprit = ", ".join(after) if after else "something"
        raise wrong(
            f"After its last layer with parameters, {culprit} changes the outputs. The logits must be that layer's "
            "raw outputs, free to be negative: put the nonlinearity between the linear layers, not after them."
        )
    _expect_trainable(net, raw, trial)
    # What runs between the first two layers with parameters: the hidden nonlinearity, if it is a module.
    between = [type(m).__name__ for m, _ in ran[with_params[0] + 1 : with_params[1]]] if len(with_params) > 1 else []
    return ", ".join(between) or "a nonlinearity"


_LAYER_CLASS = re.compile(r"\bnn\.[A-Z]\w*\s*[,)]")  # nn.ReLU, without the parentheses that create a layer


@checker("build_mlp", example="check_build_mlp(build_mlp)")
def check_build_mlp(build_mlp: Callable[..., Any], trial: Trial) -> str:
    """``build_mlp(num_hiddens)`` must return an nn.Module: flatten, a nonlinear hidden layer, 10 logits."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    names = []
    for h in (32, 20):
        try:
            net = trial.call(build_mlp, h)
        except Fail as fail:
            line = failing_line(fail.error)[0] if fail.error is not None else ""
            if isinstance(fail.error, TypeError) and (
                _LAYER_CLASS.search(line) or "is not a Module subclass" in str(fail.error)
            ):
                raise fail.hinted(
                    " Create each layer with parentheses, as in nn.ReLU(): nn.Sequential takes layers, not their "
                    "classes."
                ) from None
            raise
        if net is None:
            raise wrong("It returns None: did you forget the `return` statement?")
        if isinstance(net, type) and issubclass(net, nn.Module):
            raise wrong(
                f"It returns the class {net.__name__} itself, not a network: call it with the layers, as in "
                "nn.Sequential(nn.Flatten(), ...)."
            )
        if not isinstance(net, nn.Module):
            raise wrong(f"It returns a {type(net).__name__}; expected an nn.Module such as nn.Sequential.")
        if isinstance(net, nn.ModuleList | nn.ModuleDict):
            raise wrong(
                f"It returns an nn.{type(net).__name__}, which holds layers but cannot run them (it has no forward): "
                "use nn.Sequential, which runs its layers in order."
            )
        names.append(_probe_network(net, trial, h, gen))
    return f"Flatten, 784 -> 32 -> {names[0]} -> 10 logits: the right shape and parameter count."


# ---------------------------------------------------------------------------
# Inside a trained MLP: dead units


def _dead_unit_case(
    inputs: int, units: int, rows: int, dead_by_bias: Sequence[int], zero_unit: int, once_unit: int, seed: int
) -> tuple[nn.Linear, torch.Tensor]:
    """A linear layer and inputs X >= 0 with known dead units.

    The units in ``dead_by_bias`` have a bias of -100: off on every row. ``zero_unit`` has zero weights and
    bias: its pre-activation is exactly 0 on every row, so ReLU gives 0 and passes no gradient (dead too).
    ``once_unit`` fires on exactly one row (alive). The other units have random weights and biases.
    """
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(rows, inputs, generator=gen)
    layer = nn.Linear(inputs, units)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(units, inputs, generator=gen))
        layer.bias.copy_(torch.rand(units, generator=gen))  # > 0: the random units fire on some rows
        layer.bias[list(dead_by_bias)] = -100.0
        layer.weight[zero_unit] = 0.0
        layer.bias[zero_unit] = 0.0
        layer.weight[once_unit] = 0.0
        layer.weight[once_unit, 0] = 1.0
        top = X[:, 0].topk(2).values
        layer.bias[once_unit] = -(top[0] + top[1]) / 2  # positive on the row with the largest first input only
    return layer, X


# (inputs, units, rows, units dead by their bias, the unit with zero weights, the unit firing once, seed)
# Chosen so that within each case the right count and the counts of the mistakes below all differ, and that no
# mistake gives the same count in every case (the third case has rows on which every unit is off). A hint names a
# mistake only if that mistake gives the answer's count in every case, so a constant, or an answer wrong in another
# way, is never told of a mistake it did not make.
_DEAD_CASES = ((6, 8, 10, (0, 3), 5, 6, 12), (4, 9, 7, (2, 7, 8), 4, 1, 2), (2, 6, 8, (0,), 1, 2, 226))


def _dead_counts(layer: nn.Linear, X: torch.Tensor) -> tuple[int, dict[str, int]]:
    """How many units of ``layer`` are dead on ``X``, and what each typical mistake counts instead."""
    with torch.no_grad():
        Z, no_bias = layer(X), X @ layer.weight.T
    want = int((Z <= 0).all(dim=0).sum())
    return want, {
        "That leaves out a unit whose pre-activation is exactly 0 on every row: ReLU gives 0 there too and passes "
        "no gradient, so it is dead as well. Test z <= 0 (or relu(z) == 0).": int((Z < 0).all(dim=0).sum()),
        "That counts the units that are off on at least one row; a dead unit is off on every row: use .all(dim=0), "
        "not .any(...).": int((Z <= 0).any(dim=0).sum()),
        "That counts the rows on which every unit is off; count units (columns) instead, reducing over the rows: "
        ".all(dim=0).": int((Z <= 0).all(dim=1).sum()),
        "That is the count without the biases: the pre-activation is X @ layer.weight.T + layer.bias, or simply "
        "layer(X).": int((no_bias <= 0).all(dim=0).sum()),
        "That is the number of units that fire on some row: the live ones, not the dead.": Z.shape[1] - want,
        "That is the number of units, all of them: count those whose pre-activation is <= 0 on every row "
        "(.sum() of the mask, not its length).": Z.shape[1],
        "That counts the units whose pre-activations add up to at most 0 over the rows; a dead unit is off on every "
        "row, not on average: (layer(X) <= 0).all(dim=0).": int((Z.sum(dim=0) <= 0).sum()),
    }


@checker("count_dead", example="check_count_dead(count_dead)")
def check_count_dead(count_dead: Callable[..., Any], trial: Trial) -> str:
    """``count_dead(layer, X)``: how many units of ``layer`` have a pre-activation <= 0 on every row of ``X``."""
    cases = []  # per case: units, rows, the answer's count, the right count, what each mistake counts
    for inputs, units, rows, by_bias, zero_unit, once_unit, seed in _DEAD_CASES:
        layer, X = _dead_unit_case(inputs, units, rows, by_bias, zero_unit, once_unit, seed)
        want, mistakes = _dead_counts(layer, X)
        try:
            got = trial.call(count_dead, layer, X.clone())
        except Fail as fail:
            line = failing_line(fail.error)[0] if fail.error is not None else ""
            untransposed = "weight" in line and not re.search(r"weight\s*\.\s*(T\b|t\(|mT\b|transpose)", line)
            if _product_shapes(fail.error) == (rows, inputs, units, inputs) or (untransposed and inputs != units):
                raise fail.hinted(
                    f" layer.weight has shape (units, inputs) = ({units}, {inputs}), one row per unit: "
                    "use X @ layer.weight.T + layer.bias, or simply layer(X)."
                ) from None
            raise
        got = expect_int(got, "how many units are dead, one int (e.g. int(mask.sum()))")
        cases.append((units, rows, got, want, mistakes))
    off = [case for case in cases if case[2] != case[3]]
    if off:
        units, rows, got, want, _ = off[0]
        why = f"For a layer of {units} units on {rows} rows it returns {got}, expected {want}."
        made = [hint for hint in cases[0][4] if all(mistakes[hint] == got for _, _, got, _, mistakes in cases)]
        raise wrong(" ".join([why, *made[:1]]))
    return "It counts the units that are off on every row, including one whose pre-activation is exactly 0."
