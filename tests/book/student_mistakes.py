# ruff: noqa: E501  (the answers are cells of code, kept one statement per line where they fit)
"""Student answers to the exercise notebooks, as a student types them, with the verdict each deserves.

A new set, built for the third pass on the checkers (none of them is in the earlier lists of tests/book/): the
habits of students rather than the checkers' branches: in-place operations, a wrong axis or reduction,
broadcasting slips, detached tensors, a wrong dtype, NumPy in the middle, off-by-one indices, global state
changed on the way, GPU tensors, numerical approximations of exact functions, networks that are not what they
seem, cells run out of order, and experiments that report the wrong quantity or break their protocol. Right
answers written in unusual ways are in the set too: none may be called wrong.

Each :class:`Answer` is the cells a student runs (after the exercise notebook's own cells, ``context``), the
checker and the name the check cell passes to it, the status the verdict must have and the key words that make
its message specific (matched without regard to case); "not run" is the status of a check cell that fails before
any checker runs (its answer's cell was not run), whose message is the hint the notebook shows. ``tests/book/test_student_mistakes.py`` runs them all;
``python -m tests.book.mistake_runner`` prints the table of the report.
"""

from __future__ import annotations

from dataclasses import dataclass

PRELUDE = """\
import math
import random
from itertools import pairwise

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import d2lmini
"""

# The exercise notebooks' own cells, before the answers (their data module reads a small fake Fashion-MNIST).
CONTEXTS = {
    "scratch": """\
class MLPScratch(d2lmini.Classifier):
    def __init__(self, num_inputs, num_hiddens, num_outputs, lr, init_std=0.01):
        super().__init__()
        self.save_hyperparameters(num_inputs=num_inputs, num_hiddens=num_hiddens,
                                  num_outputs=num_outputs, lr=lr, init_std=init_std)
        self.W1 = nn.Parameter(init_std * torch.randn(num_inputs, num_hiddens))
        self.b1 = nn.Parameter(torch.zeros(num_hiddens))
        self.W2 = nn.Parameter(init_std * torch.randn(num_hiddens, num_outputs))
        self.b2 = nn.Parameter(torch.zeros(num_outputs))

d2lmini.seed_everything(0)
data = d2lmini.FashionMNIST(batch_size=16, root=data_folder, download=False)
""",
    "concise": """\
d2lmini.seed_everything(0)
data = d2lmini.FashionMNIST(batch_size=16, root=data_folder, download=False)

class Net(d2lmini.Classifier):
    def __init__(self, net, lr):
        super().__init__()
        self.save_hyperparameters(lr=lr)
        self.net = net
""",
}

# The lab's forward, attached: the experiments of the scratch lab need it.
FORWARD = """\
@d2lmini.add_to_class(MLPScratch)
def forward(self, X):
    X = X.reshape(-1, self.num_inputs)
    H = torch.relu(X @ self.W1 + self.b1)
    return H @ self.W2 + self.b2
"""

ARGUMENTS = {
    "check_mlp_forward": "MLPScratch",
    "check_one_unit": "one_unit_experiment",
    "check_depth_at_fixed_size": "depth_at_fixed_size",
}
EXPERIMENTS = {"check_one_unit", "check_lr_sweep", "check_gelu_gain", "check_depth_at_fixed_size"}


@dataclass(frozen=True)
class Answer:
    """One student answer: its cells, the check it meets and the verdict it deserves."""

    id: str
    kind: str
    check: str
    cells: tuple[str, ...]
    status: str
    words: tuple[str, ...]
    argument: str
    context: str = ""
    needs_cuda: bool = False

    @property
    def experiment(self) -> bool:
        return self.check in EXPERIMENTS


ANSWERS: list[Answer] = []


def answer(
    id: str,
    kind: str,
    check: str,
    *cells: str,
    words: tuple[str, ...] = (),
    status: str = "wrong",
    argument: str = "",
    context: str = "",
    needs_cuda: bool = False,
) -> None:
    name = argument or ARGUMENTS.get(check, check.removeprefix("check_"))
    if not context:
        context = "scratch" if check in ("check_mlp_forward", "check_one_unit", "check_lr_sweep") else ""
        context = context or ("concise" if check in ("check_gelu_gain", "check_depth_at_fixed_size") else "")
    ANSWERS.append(Answer(id, kind, check, tuple(cells), status, words, name, context, needs_cuda))


# ---------------------------------------------------------------------------
# ReLU by hand

answer("relu-clamp_", "in-place ops", "check_relu",
       "def relu(x):\n    x.clamp_(min=0)\n    return x", words=("in place",))
answer("relu-times-mask-in-place", "in-place ops", "check_relu",
       "def relu(x):\n    x *= (x > 0)\n    return x", words=("in place",))
answer("relu-alias-then-assign", "in-place ops", "check_relu",
       "def relu(x):\n    y = x\n    y[y < 0] = 0\n    return y", words=("in place",))
answer("relu-softplus-sharp", "numerical approximation", "check_relu",
       "def relu(x):\n    return F.softplus(x, beta=1e4)", words=("smooth approximation",))
answer("relu-x-sigmoid-kx", "numerical approximation", "check_relu",
       "def relu(x):\n    return x * torch.sigmoid(1000 * x)", words=("smooth approximation",))
answer("relu-np-maximum", "correct variant", "check_relu",  # NumPy hands a tensor back (with a warning)
       "def relu(x):\n    return np.maximum(x, 0)", status="correct")
answer("relu-np-maximum-array", "numpy mixing", "check_relu",
       "def relu(x):\n    return np.maximum(x.numpy(), 0)", words=("ndarray",))
answer("relu-python-list", "wrong dtype", "check_relu",
       "def relu(x):\n    return torch.tensor([max(v, 0.0) for v in x.flatten().tolist()]).reshape(x.shape)",
       words=("dtype torch.float32", "default dtype"))
answer("relu-torch-max-dim", "wrong axis", "check_relu",
       "def relu(x):\n    return torch.max(x, 0)", words=("reduces",))
answer("relu-maximum-int", "wrong dtype", "check_relu",
       "def relu(x):\n    return torch.maximum(x, 0)", words=("must be Tensor", "line 2"))
answer("relu-boolean-index", "broadcasting / shape", "check_relu",
       "def relu(x):\n    return x[x > 0]", words=("keeps only",))
answer("relu-clamp-both-ends", "formula slip", "check_relu",
       "def relu(x):\n    return torch.clamp(x, 0, 1)", words=("expected 2, got 1",))
answer("relu-plus-epsilon", "formula slip", "check_relu",
       "def relu(x):\n    return x.clamp(min=0) + 1e-8", words=("Off at input -3: expected 0, got 1e-08",))
answer("relu-abs", "formula slip", "check_relu",
       "def relu(x):\n    return x.abs()", words=("expected 0, got 3",))
answer("relu-leaky", "formula slip", "check_relu",
       "def relu(x):\n    return torch.where(x > 0, x, 0.01 * x)", words=("expected 0, got -0.03",))
answer("relu-float-cast", "wrong dtype", "check_relu",
       "def relu(x):\n    return x.clamp(min=0).float()", words=("dtype torch.float32, expected torch.float64",))
answer("relu-cuda", "GPU / device", "check_relu",
       "def relu(x):\n    return x.cuda().clamp(min=0)", words=("cuda",), needs_cuda=True)
answer("relu-sets-float64", "global state", "check_relu",
       "def relu(x):\n    torch.set_default_dtype(torch.float64)\n    return torch.where(x > 0, x, torch.zeros_like(x))",
       words=("default dtype",))
answer("relu-grad-off", "global state", "check_relu",
       "def relu(x):\n    torch.set_grad_enabled(False)\n    return x.clamp(min=0)", words=("gradient tracking off",))
answer("relu-reseeds", "global state", "check_relu",
       "def relu(x):\n    torch.manual_seed(0)\n    return x.clamp(min=0)", status="correct", words=("reseeds",))
answer("relu-kernel-float64", "global state", "check_relu",
       "torch.set_default_dtype(torch.float64)", "def relu(x):\n    return torch.where(x > 0, x, 0.0)",
       status="correct", words=("default dtype in this notebook is torch.float64",))
answer("relu-mask-product", "correct variant", "check_relu",
       "def relu(x):\n    return x * (x > 0)", status="correct")
answer("relu-abs-trick", "correct variant", "check_relu",
       "def relu(x):\n    return (x + x.abs()) / 2", status="correct")
answer("relu-where-int-zero", "correct variant", "check_relu",
       "def relu(x):\n    return torch.where(x < 0, 0, x)", status="correct")
answer("relu-cell-order", "API / cell order slips", "check_relu", status="not run", words=("run your answer", "relu"))

# ---------------------------------------------------------------------------
# The derivative of tanh

answer("tanh-central-difference", "numerical approximation", "check_tanh_grad",
       "def tanh_grad(x):\n    h = 1e-5\n    return (torch.tanh(x + h) - torch.tanh(x - h)) / (2 * h)",
       words=("finite difference",))
answer("tanh-forward-difference", "numerical approximation", "check_tanh_grad",
       "def tanh_grad(x):\n    return (torch.tanh(x + 1e-4) - torch.tanh(x)) / 1e-4", words=("finite difference",))
answer("tanh-richardson", "numerical approximation", "check_tanh_grad",
       "def tanh_grad(x):\n    h = 1e-3\n    d1 = (torch.tanh(x + h) - torch.tanh(x - h)) / (2 * h)\n"
       "    d2 = (torch.tanh(x + 2 * h) - torch.tanh(x - 2 * h)) / (4 * h)\n    return (4 * d1 - d2) / 3",
       words=("finite difference",))
answer("tanh-in-terms-of-x", "formula slip", "check_tanh_grad",
       "def tanh_grad(x):\n    return 1 - x ** 2", words=("1 - tanh(x)**2",))
answer("tanh-square-outside", "formula slip", "check_tanh_grad",
       "def tanh_grad(x):\n    return (1 - torch.tanh(x)) ** 2", words=("(1 - tanh(x))**2",))
answer("tanh-plus-sign", "formula slip", "check_tanh_grad",
       "def tanh_grad(x):\n    return 1 + torch.tanh(x) ** 2", words=("1 + tanh(x)**2",))
answer("tanh-float32", "wrong dtype", "check_tanh_grad",
       "def tanh_grad(x):\n    return 1 - torch.tanh(x.float()) ** 2", words=("dtype torch.float32",))
answer("tanh-float32-cast-back", "wrong dtype", "check_tanh_grad",
       "def tanh_grad(x):\n    return (1 - torch.tanh(x.float()) ** 2).to(x.dtype)", words=("float32",))
answer("tanh-sech", "correct variant", "check_tanh_grad",
       "def tanh_grad(x):\n    return 1 / torch.cosh(x) ** 2", status="correct")
answer("tanh-numpy", "correct variant", "check_tanh_grad",
       "def tanh_grad(x):\n    return torch.from_numpy(1 - np.tanh(x.numpy()) ** 2)", status="correct")
answer("tanh-product", "correct variant", "check_tanh_grad",
       "def tanh_grad(x):\n    t = torch.tanh(x)\n    return (1 - t) * (1 + t)", status="correct")
answer("tanh-grad-in-place", "in-place ops", "check_tanh_grad",
       "def tanh_grad(x):\n    x.tanh_()\n    return 1 - x * x", status="correct", words=("in place",))

# ---------------------------------------------------------------------------
# The derivative of pReLU

answer("prelu-swapped", "formula slip", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    return torch.where(x > 0, torch.full_like(x, alpha), torch.ones_like(x))",
       words=("swapped",))
answer("prelu-central-difference", "numerical approximation", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    h = 1e-6\n    f = lambda t: torch.where(t > 0, t, alpha * t)\n"
       "    return (f(x + h) - f(x - h)) / (2 * h)", words=("jumps",))
answer("prelu-sigmoid-step", "numerical approximation", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    s = torch.sigmoid(1e4 * x)\n    return s + alpha * (1 - s)", words=("jumps",))
answer("prelu-long-plus", "wrong dtype", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    return (x > 0).long() + alpha * (x <= 0)", words=("dtype", "float64"))
answer("prelu-where-scalars", "wrong dtype", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    return torch.where(x > 0, 1, alpha)", words=("default dtype",))
answer("prelu-less-than", "off-by-one", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    return torch.where(x < 0, torch.full_like(x, alpha), torch.ones_like(x))",
       words=("x = 0",))
answer("prelu-in-place-assign", "in-place ops", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    positive = x > 0\n    x[positive] = 1\n    x[~positive] = alpha\n    return x",
       status="correct", words=("in place",))
answer("prelu-adds-alpha", "formula slip", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    return torch.ones_like(x) * (x > 0) + alpha", words=("expected 1, got 1.25",))
answer("prelu-hard-coded-alpha", "formula slip", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    return torch.where(x > 0, 1.0, 0.25).to(x.dtype)",
       words=("alpha = 0.1", "expected 0.1, got 0.25"))
answer("prelu-one-minus", "correct variant", "check_prelu_grad",
       "def prelu_grad(x, alpha):\n    return 1 - (1 - alpha) * (x <= 0).to(x.dtype)", status="correct")

# ---------------------------------------------------------------------------
# A stable softmax

answer("softmax-log-trick-unstable", "numerical stability", "check_softmax",
       "def softmax(X):\n    return torch.exp(X - torch.log(torch.exp(X).sum(1, keepdim=True)))", words=("NaN or inf",))
answer("softmax-eps", "wrong reduction", "check_softmax",
       "def softmax(X):\n    e = torch.exp(X - X.max(1, keepdim=True).values)\n    return e / (e.sum(1, keepdim=True) + 1e-3)",
       words=("proportional",))
answer("softmax-tiny-eps", "wrong reduction", "check_softmax",
       "def softmax(X):\n    e = torch.exp(X - X.max(1, keepdim=True).values)\n    return e / (e.sum(1, keepdim=True) + 3e-4)",
       words=("proportional",))
answer("softmax-dim-minus-2", "wrong axis", "check_softmax",
       "def softmax(X):\n    e = torch.exp(X - X.max(dim=-2, keepdim=True).values)\n"
       "    return e / e.sum(dim=-2, keepdim=True)", words=("dim=0",))
answer("softmax-returns-log", "formula slip", "check_softmax",
       "def softmax(X):\n    s = X - X.max(1, keepdim=True).values\n    return s - torch.log(torch.exp(s).sum(1, keepdim=True))",
       words=("log-probabilities",))
answer("softmax-numpy", "numpy mixing", "check_softmax",
       "def softmax(X):\n    e = np.exp(X.numpy() - X.numpy().max(axis=1, keepdims=True))\n"
       "    return e / e.sum(axis=1, keepdims=True)", words=("ndarray",))
answer("softmax-flat-sum", "wrong reduction", "check_softmax",
       "def softmax(X):\n    e = torch.exp(X - X.max())\n    return e / e.sum()", words=("All entries together",))
answer("softmax-clamped-scores", "numerical stability", "check_softmax",
       "def softmax(X):\n    e = torch.exp(X.clamp(max=80))\n    return e / e.sum(1, keepdim=True)",
       words=("large", "maximum"))
answer("softmax-numpy-back", "correct variant", "check_softmax",
       "def softmax(X):\n    a = X.numpy()\n    e = np.exp(a - a.max(axis=1, keepdims=True))\n"
       "    return torch.from_numpy(e / e.sum(axis=1, keepdims=True))", status="correct")
answer("softmax-in-place", "in-place ops", "check_softmax",
       "def softmax(X):\n    X.sub_(X.max(1, keepdim=True).values).exp_()\n    return X / X.sum(1, keepdim=True)",
       status="correct", words=("in place",))
answer("softmax-python-lists", "correct variant", "check_softmax",
       "def softmax(X):\n    rows = []\n    for r in X.tolist():\n        m = max(r)\n        e = [math.exp(v - m) for v in r]\n"
       "        rows.append([v / sum(e) for v in e])\n    return torch.tensor(rows)", status="correct")
answer("softmax-unsqueeze", "correct variant", "check_softmax",
       "def softmax(X):\n    e = torch.exp(X - X.max(1).values[:, None])\n    return e / e.sum(1)[:, None]", status="correct")
answer("softmax-float64", "wrong dtype", "check_softmax",
       "def softmax(X):\n    X = X.double()\n    e = torch.exp(X - X.max(1, keepdim=True).values)\n"
       "    return e / e.sum(1, keepdim=True)", words=("dtype torch.float64, expected torch.float32",))

# ---------------------------------------------------------------------------
# Cross-entropy on logits

LOG_PROBS = "    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)\n"
answer("ce-column-y", "wrong axis", "check_cross_entropy",
       "def cross_entropy(logits, y):\n" + LOG_PROBS + "    return -log_probs[:, y].mean()", words=("log_probs[:, y]",))
answer("ce-rows-by-label", "wrong axis", "check_cross_entropy",
       "def cross_entropy(logits, y):\n" + LOG_PROBS + "    return -log_probs[y].mean()", words=("picks rows by label",))
answer("ce-mean-of-all", "wrong reduction", "check_cross_entropy",
       "def cross_entropy(logits, y):\n" + LOG_PROBS + "    return -log_probs.mean()", words=("every class",))
answer("ce-logsumexp-dim0", "wrong axis", "check_cross_entropy",
       "def cross_entropy(logits, y):\n    log_probs = logits - torch.logsumexp(logits, dim=0, keepdim=True)\n"
       "    return -log_probs[torch.arange(len(y)), y].mean()", words=("dim=0",))
answer("ce-one-hot", "correct variant", "check_cross_entropy",
       "def cross_entropy(logits, y):\n" + LOG_PROBS
       + "    return -(F.one_hot(y, logits.shape[1]) * log_probs).sum(dim=1).mean()", status="correct")
answer("ce-float-index", "wrong dtype", "check_cross_entropy",
       "def cross_entropy(logits, y):\n" + LOG_PROBS + "    return -log_probs[torch.arange(len(y)), y.float()].mean()",
       words=("indices", "line 3"))
answer("ce-through-numpy", "detached tensors", "check_cross_entropy",
       "def cross_entropy(logits, y):\n    z = logits.detach().numpy()\n    m = z.max(axis=1, keepdims=True)\n"
       "    lp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))\n"
       "    return torch.tensor(-lp[np.arange(len(y)), y.numpy()].mean(), requires_grad=True)",
       words=("no gradient reaches",))
answer("ce-sum-over-classes", "wrong reduction", "check_cross_entropy",
       "def cross_entropy(logits, y):\n" + LOG_PROBS
       + "    return -(F.one_hot(y, logits.shape[1]) * log_probs).sum(dim=0).mean()", words=("number of classes",))
answer("ce-log-of-softmax", "numerical stability", "check_cross_entropy",
       "def cross_entropy(logits, y):\n    p = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)\n"
       "    return -torch.log(p[range(len(y)), y]).mean()", words=("log-softmax directly",))
answer("ce-labels-minus-one", "off-by-one", "check_cross_entropy",
       "def cross_entropy(logits, y):\n" + LOG_PROBS + "    return -log_probs[torch.arange(len(y)), y - 1].mean()",
       words=("counted from 0",))
answer("ce-gather-dim0", "wrong axis", "check_cross_entropy",
       "def cross_entropy(logits, y):\n" + LOG_PROBS + "    return -log_probs.gather(0, y[:, None]).mean()",
       words=("log_probs[torch.arange(len(y)), y]",))
answer("ce-float64", "wrong dtype", "check_cross_entropy",
       "def cross_entropy(logits, y):\n    z = logits.double()\n    lp = z - torch.logsumexp(z, dim=1, keepdim=True)\n"
       "    return -lp[torch.arange(len(y)), y].mean()", words=("dtype torch.float64",))
answer("ce-shape-1", "broadcasting / shape", "check_cross_entropy",
       "def cross_entropy(logits, y):\n" + LOG_PROBS + "    return -log_probs[torch.arange(len(y)), y].mean().reshape(1)",
       words=("shape (1,)",))
answer("ce-logsumexp-no-keepdim", "broadcasting / shape", "check_cross_entropy",
       "def cross_entropy(logits, y):\n    log_probs = logits - torch.logsumexp(logits, dim=1)\n"
       "    return -log_probs[torch.arange(len(y)), y].mean()", words=("keepdim",))

# ---------------------------------------------------------------------------
# A parameter counter

answer("params-grad-not-none", "formula slip", "check_count_params",
       "def count_params(module):\n    return sum(p.numel() for p in module.parameters() if p.grad is not None)",
       words=("p.grad",))
answer("params-state-dict", "formula slip", "check_count_params",
       "def count_params(module):\n    return sum(t.numel() for t in module.state_dict().values())", words=("frozen",))
answer("params-shape-product", "broadcasting / shape", "check_count_params",
       "def count_params(module):\n    return sum(p.shape[0] * p.shape[1] for p in module.parameters())",
       words=("IndexError", "line 2"))
answer("params-len", "wrong reduction", "check_count_params",
       "def count_params(module):\n    return sum(len(p) for p in module.parameters() if p.requires_grad)",
       words=("numel",))
answer("params-linear-layers", "formula slip", "check_count_params",
       "def count_params(module):\n    return sum(m.weight.numel() + m.bias.numel() for m in module.modules()\n"
       "               if isinstance(m, nn.Linear))", words=("frozen",))
answer("params-divided", "wrong dtype", "check_count_params",
       "def count_params(module):\n    return sum(p.numel() for p in module.parameters() if p.requires_grad) / 1",
       words=("float",))
answer("params-np-sum", "numpy mixing", "check_count_params",
       "def count_params(module):\n    return np.sum([p.numel() for p in module.parameters() if p.requires_grad])",
       words=("NumPy",))
answer("params-children", "formula slip", "check_count_params",
       "def count_params(module):\n    return sum(c.numel() for c in module.children())", words=("numel",))
answer("params-modules", "formula slip", "check_count_params",
       "def count_params(module):\n    return len(list(module.modules()))", words=("number of modules",))
answer("params-network-passed", "API / cell order slips", "check_count_params",
       "def count_params(module):\n    return sum(p.numel() for p in module.parameters() if p.requires_grad)",
       "net = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 1))", argument="net", words=("network",))
answer("params-nelement", "correct variant", "check_count_params",
       "def count_params(module):\n    return sum(p.nelement() for p in module.parameters() if p.requires_grad == True)",
       status="correct")
answer("params-prod", "correct variant", "check_count_params",
       "def count_params(module):\n    return sum(math.prod(p.shape) for p in module.parameters() if p.requires_grad)",
       status="correct")

# ---------------------------------------------------------------------------
# Collapse two linear layers

answer("collapse-b-first", "formula slip", "check_collapse",
       "def collapse(W1, b1, W2, b2):\n    return b1 @ W2 + b2, W1 @ W2", words=("order (b, W)",))
answer("collapse-elementwise", "formula slip", "check_collapse",
       "def collapse(W1, b1, W2, b2):\n    return W1 * W2, b1 * W2 + b2", words=("entry by entry",))
answer("collapse-b1-W1", "formula slip", "check_collapse",
       "def collapse(W1, b1, W2, b2):\n    return W1 @ W2, b1 @ W1 + b2", words=("b1 @ W1",))
answer("collapse-column-bias", "broadcasting / shape", "check_collapse",
       "def collapse(W1, b1, W2, b2):\n    return W1 @ W2, (b1 @ W2 + b2).reshape(-1, 1)", words=("shape (4, 1)",))
answer("collapse-numpy", "numpy mixing", "check_collapse",
       "def collapse(W1, b1, W2, b2):\n    W = W1.numpy() @ W2.numpy()\n    b = b1.numpy() @ W2.numpy() + b2.numpy()\n"
       "    return W, b", words=("ndarray",))
answer("collapse-dict", "API / cell order slips", "check_collapse",
       "def collapse(W1, b1, W2, b2):\n    return {'W': W1 @ W2, 'b': b1 @ W2 + b2}", words=("pair",))
answer("collapse-transposed-mv", "correct variant", "check_collapse",
       "def collapse(W1, b1, W2, b2):\n    return torch.mm(W1, W2), torch.mv(W2.t(), b1) + b2", status="correct")
answer("collapse-in-place-W1", "in-place ops", "check_collapse",
       "def collapse(W1, b1, W2, b2):\n    b2.add_(b1 @ W2)\n    return W1 @ W2, b2", status="correct",
       words=("in place",))

# ---------------------------------------------------------------------------
# The decision-region grid

answer("grid-meshgrid-xy", "correct variant", "check_decision_grid",
       "def decision_grid(predict, resolution, extent):\n    t = torch.linspace(-extent, extent, resolution)\n"
       "    x1, x2 = torch.meshgrid(t, t, indexing='xy')\n"
       "    return predict(torch.stack([x1.flatten(), x2.flatten()], 1)).reshape(resolution, resolution)",
       status="correct")
answer("grid-ij-unpacked-x1-first", "wrong axis", "check_decision_grid",
       "def decision_grid(predict, resolution, extent):\n    t = torch.linspace(-extent, extent, resolution)\n"
       "    x1, x2 = torch.meshgrid(t, t, indexing='ij')\n"
       "    return predict(torch.stack([x1.flatten(), x2.flatten()], 1)).reshape(resolution, resolution)",
       words=("transposed",))
answer("grid-arange", "off-by-one", "check_decision_grid",
       "def decision_grid(predict, resolution, extent):\n    t = torch.arange(-extent, extent, 2 * extent / resolution)\n"
       "    x2, x1 = torch.meshgrid(t, t, indexing='ij')\n"
       "    return predict(torch.stack([x1.flatten(), x2.flatten()], 1)).reshape(resolution, resolution)",
       words=("both ends included",))
answer("grid-one-more-point", "off-by-one", "check_decision_grid",
       "def decision_grid(predict, resolution, extent):\n    t = torch.linspace(-extent, extent, resolution + 1)\n"
       "    x2, x1 = torch.meshgrid(t, t, indexing='ij')\n"
       "    return predict(torch.stack([x1.flatten(), x2.flatten()], 1)).reshape(resolution + 1, resolution + 1)",
       words=("returns shape (6, 6), expected (5, 5)",))
answer("grid-labels", "formula slip", "check_decision_grid",
       "def decision_grid(predict, resolution, extent):\n    t = torch.linspace(-extent, extent, resolution)\n"
       "    x2, x1 = torch.meshgrid(t, t, indexing='ij')\n    p = torch.stack([x1.flatten(), x2.flatten()], 1)\n"
       "    return (predict(p) > 0).long().reshape(resolution, resolution)", words=("class labels",))
answer("grid-numpy-points", "numpy mixing", "check_decision_grid",
       "def decision_grid(predict, resolution, extent):\n    t = np.linspace(-extent, extent, resolution)\n"
       "    x1, x2 = np.meshgrid(t, t)\n    return predict(np.stack([x1.ravel(), x2.ravel()], 1)).reshape(resolution, resolution)",
       words=("tensor of shape (n, 2)",))
answer("grid-reversed-ticks", "formula slip", "check_decision_grid",
       "def decision_grid(predict, resolution, extent):\n    t = torch.linspace(extent, -extent, resolution)\n"
       "    x2, x1 = torch.meshgrid(t, t, indexing='ij')\n"
       "    return predict(torch.stack([x1.flatten(), x2.flatten()], 1)).reshape(resolution, resolution)",
       words=("half a turn",))
answer("grid-float64-ticks", "wrong dtype", "check_decision_grid",
       "def decision_grid(predict, resolution, extent):\n    t = torch.linspace(-extent, extent, resolution, dtype=torch.float64)\n"
       "    x2, x1 = torch.meshgrid(t, t, indexing='ij')\n"
       "    return predict(torch.stack([x1.flatten(), x2.flatten()], 1)).reshape(resolution, resolution)",
       words=("dtype torch.float64",))

# ---------------------------------------------------------------------------
# The scratch lab's forward

RIGHT_BODY = "    X = X.reshape(-1, self.num_inputs)\n    H = torch.relu(X @ self.W1 + self.b1)\n    return H @ self.W2 + self.b2\n"
answer("forward-not-attached", "forward slips", "check_mlp_forward",
       "def forward(self, X):\n" + RIGHT_BODY, words=("add_to_class(MLPScratch)", "plain function"))
answer("forward-class-rerun", "forward slips", "check_mlp_forward",
       FORWARD, CONTEXTS["scratch"].split("\nd2lmini.seed_everything")[0], words=("ran again",))
answer("forward-misspelt", "forward slips", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef foward(self, X):\n" + RIGHT_BODY, words=("misspelt",))
answer("forward-flatten-all", "broadcasting / shape", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.flatten()\n"
       "    return torch.relu(X @ self.W1 + self.b1) @ self.W2 + self.b2", words=("(batch, 784)",))
answer("forward-reshape-784-first", "broadcasting / shape", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape(784, -1)\n"
       "    return torch.relu(X @ self.W1 + self.b1) @ self.W2 + self.b2", words=("(batch, 784)",))
answer("forward-hard-coded-batch", "broadcasting / shape", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape(4, 784)\n"
       "    return torch.relu(X @ self.W1 + self.b1) @ self.W2 + self.b2", words=("reshape(-1, 784)",))
answer("forward-dropout", "structure (network)", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape(-1, self.num_inputs)\n"
       "    H = F.dropout(torch.relu(X @ self.W1 + self.b1), 0.5)\n    return H @ self.W2 + self.b2",
       words=("dropout", "training=self.training"))
answer("forward-detached-hidden", "detached tensors", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape(-1, self.num_inputs)\n"
       "    H = torch.relu(X @ self.W1 + self.b1).detach()\n    return H @ self.W2 + self.b2", words=("no gradient reaches",))
answer("forward-data-attribute", "detached tensors", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape(-1, self.num_inputs)\n"
       "    H = torch.relu(X @ self.W1.data + self.b1)\n    return H @ self.W2 + self.b2", words=("self.W1",))
answer("forward-numpy-relu", "numpy mixing", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape(-1, self.num_inputs)\n"
       "    Z = (X @ self.W1 + self.b1).detach().numpy()\n    H = torch.from_numpy(np.maximum(Z, 0))\n"
       "    return H @ self.W2 + self.b2", words=("self.W1",))
answer("forward-returns-pair", "API / cell order slips", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape(-1, self.num_inputs)\n"
       "    H = torch.relu(X @ self.W1 + self.b1)\n    return H @ self.W2 + self.b2, H", words=("tuple",))
answer("forward-bias-after-relu", "formula slip", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.reshape(-1, self.num_inputs)\n"
       "    H = torch.relu(X @ self.W1) + self.b1\n    return H @ self.W2 + self.b2", words=("after the ReLU",))
answer("forward-clamp", "correct variant", "check_mlp_forward",
       "@d2lmini.add_to_class(MLPScratch)\ndef forward(self, X):\n    X = X.view(len(X), -1)\n"
       "    return torch.clamp(X @ self.W1 + self.b1, min=0) @ self.W2 + self.b2", status="correct")
answer("forward-inside-class", "correct variant", "check_mlp_forward",
       "class MLPScratch(MLPScratch):\n    def forward(self, X):\n        X = X.flatten(1)\n"
       "        return torch.relu(X @ self.W1 + self.b1) @ self.W2 + self.b2", status="correct")
answer("forward-cell-order", "API / cell order slips", "check_mlp_forward",
       "del MLPScratch", status="not run", words=("class MLPScratch",))

# ---------------------------------------------------------------------------
# A network built from layers

answer("build-network-passed", "API / cell order slips", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens), nn.ReLU(), "
       "nn.LazyLinear(10))", "net = build_mlp(256)", argument="net", words=("where your function is asked",))
answer("build-positive-bias", "correct variant", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    net = nn.Sequential(nn.Flatten(), nn.Linear(784, num_hiddens), nn.ReLU(),\n"
       "                        nn.Linear(num_hiddens, 10))\n    nn.init.constant_(net[1].bias, 1.0)\n    return net",
       status="correct")
answer("build-positive-bias-he", "correct variant", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    net = nn.Sequential(nn.Flatten(), nn.Linear(784, num_hiddens), nn.ReLU(),\n"
       "                        nn.Linear(num_hiddens, 10))\n    nn.init.kaiming_normal_(net[1].weight)\n"
       "    nn.init.constant_(net[1].bias, 0.5)\n    return net", status="correct")
answer("build-functional-dropout", "structure (network)", "check_build_mlp",
       "class MLP(nn.Module):\n    def __init__(self, h):\n        super().__init__()\n"
       "        self.hidden, self.out = nn.Linear(784, h), nn.Linear(h, 10)\n    def forward(self, X):\n"
       "        H = F.dropout(torch.relu(self.hidden(X.flatten(1))), 0.2)\n        return self.out(H)\n\n"
       "def build_mlp(num_hiddens):\n    return MLP(num_hiddens)", words=("dropout", "eval mode"))
answer("build-dropout-layer", "correct variant", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens), nn.ReLU(),\n"
       "                         nn.Dropout(0.5), nn.LazyLinear(10))", status="correct")
answer("build-double", "wrong dtype", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    return nn.Sequential(nn.Flatten(), nn.Linear(784, num_hiddens), nn.ReLU(),\n"
       "                         nn.Linear(num_hiddens, 10)).double()", words=("float64",))
answer("build-ordered-dict", "correct variant", "check_build_mlp",
       "from collections import OrderedDict\n\ndef build_mlp(num_hiddens):\n    return nn.Sequential(OrderedDict(\n"
       "        flatten=nn.Flatten(), hidden=nn.Linear(784, num_hiddens), relu=nn.ReLU(), out=nn.Linear(num_hiddens, 10)))",
       status="correct")
answer("build-on-gpu", "GPU / device", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    return nn.Sequential(nn.Flatten(), nn.Linear(784, num_hiddens), nn.ReLU(),\n"
       "                         nn.Linear(num_hiddens, 10)).to('cuda')", status="correct", needs_cuda=True)
answer("build-flatten-0", "broadcasting / shape", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    return nn.Sequential(nn.Flatten(0), nn.Linear(784, num_hiddens), nn.ReLU(),\n"
       "                         nn.Linear(num_hiddens, 10))", words=("batch dimension",))
answer("build-returns-class", "API / cell order slips", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    return nn.Sequential", words=("call it",))
answer("build-identity-activation", "structure (network)", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens), nn.Identity(),\n"
       "                         nn.LazyLinear(10))", words=("collapse into one",))
answer("build-custom-no-activation", "structure (network)", "check_build_mlp",
       "class MLP(nn.Module):\n    def __init__(self, h):\n        super().__init__()\n"
       "        self.l1, self.l2 = nn.Linear(784, h), nn.Linear(h, 10)\n    def forward(self, X):\n"
       "        return self.l2(self.l1(X.reshape(len(X), -1)))\n\ndef build_mlp(num_hiddens):\n    return MLP(num_hiddens)",
       words=("collapse into one",))
answer("build-kernel-float64", "global state", "check_build_mlp",
       "torch.set_default_dtype(torch.float64)",
       "def build_mlp(num_hiddens):\n    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens), nn.ReLU(), "
       "nn.LazyLinear(10))", status="correct", words=("default dtype in this notebook",))
answer("build-he-init", "correct variant", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    net = nn.Sequential(nn.Flatten(), nn.Linear(784, num_hiddens), nn.ReLU(),\n"
       "                        nn.Linear(num_hiddens, 10))\n    for m in net:\n        if isinstance(m, nn.Linear):\n"
       "            nn.init.kaiming_normal_(m.weight, nonlinearity='relu')\n            nn.init.zeros_(m.bias)\n"
       "    return net", status="correct")
answer("build-sets-float64", "global state", "check_build_mlp",
       "def build_mlp(num_hiddens):\n    torch.set_default_dtype(torch.float64)\n"
       "    return nn.Sequential(nn.Flatten(), nn.Linear(784, num_hiddens), nn.ReLU(), nn.Linear(num_hiddens, 10))",
       words=("default dtype",))

# ---------------------------------------------------------------------------
# Count the dead units

answer("dead-sum-of-rows", "wrong reduction", "check_count_dead",
       "def count_dead(layer, X):\n    return int((layer(X).sum(dim=0) <= 0).sum())", words=("add up",))
answer("dead-relu-sum", "correct variant", "check_count_dead",
       "def count_dead(layer, X):\n    return int((F.relu(layer(X)).sum(dim=0) == 0).sum())", status="correct")
answer("dead-max-item", "correct variant", "check_count_dead",
       "def count_dead(layer, X):\n    return (layer(X).max(dim=0).values <= 0).sum().item()", status="correct")
answer("dead-all-tensor", "wrong dtype", "check_count_dead",
       "def count_dead(layer, X):\n    return torch.all(layer(X) <= 0, dim=0).sum()", words=("Python int",))
answer("dead-fraction", "wrong reduction", "check_count_dead",
       "def count_dead(layer, X):\n    return (layer(X) <= 0).all(dim=0).float().mean().item()", words=("float",))
answer("dead-weight-untransposed", "broadcasting / shape", "check_count_dead",
       "def count_dead(layer, X):\n    Z = X @ layer.weight + layer.bias\n    return int((Z <= 0).all(dim=0).sum())",
       words=("layer.weight.T",))
answer("dead-len", "wrong reduction", "check_count_dead",
       "def count_dead(layer, X):\n    return len((layer(X) <= 0).all(dim=0))", words=("all of them",))
answer("dead-numpy", "numpy mixing", "check_count_dead",
       "def count_dead(layer, X):\n    Z = layer(X).detach().numpy()\n    return np.sum(np.all(Z <= 0, axis=0))",
       words=("NumPy",))
answer("dead-on-gpu", "GPU / device", "check_count_dead",
       "def count_dead(layer, X):\n    Z = layer.cuda()(X.cuda())\n    return int((Z <= 0).all(dim=0).sum())",
       status="correct", needs_cuda=True)
answer("dead-result-passed", "API / cell order slips", "check_count_dead",
       "def count_dead(layer, X):\n    return int((layer(X) <= 0).all(dim=0).sum())",
       "layer = nn.Linear(4, 3)\ndead = count_dead(layer, torch.rand(5, 4))", argument="dead", words=("type int",))

# ---------------------------------------------------------------------------
# Experiments of the scratch lab: one hidden unit

ONE_UNIT = """\
def one_unit_experiment(lr=0.1):
    d2lmini.seed_everything(0)
    model = MLPScratch(num_inputs=784, num_hiddens={units}, num_outputs=10, lr=lr)
    history = d2lmini.Trainer(max_epochs={epochs}, seed=0, progress="none").fit(model, data)
    X = {images}
    with torch.no_grad():
        active = {active}
    return {{"val_acc": {val_acc}, "active": active}}
"""
RIGHT_ONE_UNIT = dict(units=1, epochs=3, images="data.transform(data.train_X[:10_000]).reshape(-1, 784)",
                      active="(X @ model.W1 + model.b1 > 0).float().mean().item()", val_acc='history.final["val_acc"]')


def one_unit(**changes: str | int) -> str:
    return ONE_UNIT.format(**{**RIGHT_ONE_UNIT, **changes})


answer("one-unit-right", "correct variant", "check_one_unit", FORWARD, one_unit(), status="correct")
answer("one-unit-both-rates-inside", "correct variant", "check_one_unit", FORWARD,
       one_unit().replace("def one_unit_experiment(lr=0.1):", "def one_unit_run(lr):")
       + "\n\ndef one_unit_experiment():\n    first = one_unit_run(0.1)\n    one_unit_run(0.5)\n    return first\n",
       status="correct")
answer("one-unit-val-loss", "experiment: quantity", "check_one_unit", FORWARD,
       one_unit(val_acc='history.final["val_loss"]'), words=("validation loss",))
answer("one-unit-train-acc", "experiment: quantity", "check_one_unit", FORWARD,
       one_unit(val_acc='history.final["train_acc"]'), words=("training accuracy",))
answer("one-unit-at-least-zero", "correct variant", "check_one_unit", FORWARD,  # no input is exactly 0 in floats
       one_unit(active="(X @ model.W1 + model.b1 >= 0).float().mean().item()"), status="correct")
answer("one-unit-post-relu", "correct variant", "check_one_unit", FORWARD,
       one_unit(active="(torch.relu(X @ model.W1 + model.b1) > 0).float().mean().item()"), status="correct")
answer("one-unit-raw-pixels", "experiment: quantity", "check_one_unit", FORWARD,
       one_unit(images="data.train_X[:10_000].reshape(-1, 784).float()"), words=("raw uint8",))
answer("one-unit-uint8-error", "wrong dtype", "check_one_unit", FORWARD,
       one_unit(images="data.train_X[:10_000].reshape(-1, 784)"), words=("raw uint8", "data.transform"))
answer("one-unit-overwrites-data", "global state", "check_one_unit", FORWARD,
       one_unit(images="data.train_X = data.transform(data.train_X).reshape(-1, 784)\n    X = data.train_X[:10_000]"),
       words=("replaces the data module",))
answer("one-unit-lr-default", "experiment: protocol", "check_one_unit", FORWARD,
       one_unit().replace("lr=0.1", "lr=0.5", 1), words=("learning rate 0.5",))
answer("one-unit-two-units", "experiment: protocol", "check_one_unit", FORWARD, one_unit(units=2),
       words=("2 hidden units",))
answer("one-unit-five-epochs", "experiment: protocol", "check_one_unit", FORWARD, one_unit(epochs=5),
       words=("5 epoch",))
answer("one-unit-before-training", "experiment: quantity", "check_one_unit", FORWARD,
       one_unit().replace("    history = d2lmini", "    W1, b1 = model.W1.detach().clone(), model.b1.detach().clone()\n"
                          "    history = d2lmini").replace("X @ model.W1 + model.b1", "X @ W1 + b1"),
       words=("started with",))
answer("one-unit-percentage", "experiment: quantity", "check_one_unit", FORWARD,
       one_unit(active="100 * (X @ model.W1 + model.b1 > 0).float().mean().item()"), words=("percentage",))
answer("one-unit-returns-history", "API / cell order slips", "check_one_unit", FORWARD,
       one_unit().replace('    return {"val_acc"', '    return history\n    return {"val_acc"'), words=("missing",))
answer("one-unit-mask", "wrong reduction", "check_one_unit", FORWARD,
       one_unit(active="X @ model.W1 + model.b1 > 0"), words=("report one number",))
answer("one-unit-inactive", "experiment: quantity", "check_one_unit", FORWARD,
       one_unit(active="(X @ model.W1 + model.b1 <= 0).float().mean().item()"), words=("where it is off",))
answer("one-unit-validation-images", "experiment: quantity", "check_one_unit", FORWARD,
       one_unit(images="data.transform(data.val_X[:10_000]).reshape(-1, 784)"), words=("validation images",))
answer("one-unit-sets-float64", "global state", "check_one_unit", FORWARD,
       one_unit().replace("    d2lmini.seed_everything(0)\n", "    torch.set_default_dtype(torch.float64)\n"
                          "    d2lmini.seed_everything(0)\n", 1), words=("default dtype",))

# ---------------------------------------------------------------------------
# Experiments of the scratch lab: a learning-rate sweep

SWEEP = """\
def lr_sweep():
    histories = {{}}
{before}    for lr in {rates}:
{inside}        histories[lr] = d2lmini.Trainer(max_epochs={epochs}, seed=0, progress="none").fit(model, data)
    return {returned}
"""
RIGHT_SWEEP = dict(
    before="", rates="(0.01, 0.1, 1.0)", epochs=2, returned="histories",
    inside="        d2lmini.seed_everything(0)\n"
    "        model = MLPScratch(num_inputs=784, num_hiddens={units}, num_outputs=10, lr=lr)\n",
)


def sweep(units: int = 256, **changes: str | int) -> str:
    fields = {**RIGHT_SWEEP, **changes}
    fields["inside"] = str(fields["inside"]).format(units=units)
    return SWEEP.format(**fields)


answer("sweep-right", "correct variant", "check_lr_sweep", FORWARD, sweep(), status="correct")
answer("sweep-one-model", "experiment: protocol", "check_lr_sweep", FORWARD,
       sweep(before="    d2lmini.seed_everything(0)\n    model = MLPScratch(784, 256, 10, lr=0.01)\n",
             inside="        model.lr = lr\n"), words=("keep training one model",))
answer("sweep-seeded-once", "correct variant", "check_lr_sweep", FORWARD,  # Trainer(seed=0) reseeds in each fit
       sweep(before="    d2lmini.seed_everything(0)\n",
             inside="        model = MLPScratch(num_inputs=784, num_hiddens=256, num_outputs=10, lr=lr)\n"),
       status="correct")
answer("sweep-no-seeds", "experiment: protocol", "check_lr_sweep", FORWARD,
       sweep(inside="        model = MLPScratch(num_inputs=784, num_hiddens=256, num_outputs=10, lr=lr)\n")
       .replace("seed=0, ", ""), words=("different initial weights", "seed_everything(0)"))
answer("sweep-keys-mixed", "experiment: protocol", "check_lr_sweep", FORWARD,
       sweep(returned="dict(zip((0.01, 0.1, 1.0), reversed(list(histories.values()))))"), words=("mixed up",))
answer("sweep-final-records", "API / cell order slips", "check_lr_sweep", FORWARD,
       sweep(returned="{lr: h.final for lr, h in histories.items()}"), words=("return the History itself",))
answer("sweep-extra-rate", "correct variant", "check_lr_sweep", FORWARD,
       sweep(rates="(0.01, 0.1, 1.0, 10.0)", returned="{lr: h for lr, h in histories.items() if lr != 10.0}"),
       status="correct")
answer("sweep-three-epochs", "experiment: protocol", "check_lr_sweep", FORWARD, sweep(epochs=3), words=("3 epoch",))
answer("sweep-trainer-reused", "correct variant", "check_lr_sweep", FORWARD,
       "def lr_sweep():\n    trainer = d2lmini.Trainer(max_epochs=2, seed=0, progress='none')\n    histories = {}\n"
       "    for lr in (0.01, 0.1, 1.0):\n        d2lmini.seed_everything(0)\n"
       "        trainer.fit(MLPScratch(784, 256, 10, lr=lr), data)\n        histories[lr] = trainer.history\n"
       "    return histories", status="correct")
answer("sweep-128-units", "experiment: protocol", "check_lr_sweep", FORWARD, sweep(units=128),
       words=("128 hidden units",))
answer("sweep-deepcopy", "correct variant", "check_lr_sweep", FORWARD,
       "import copy\n\ndef lr_sweep():\n    d2lmini.seed_everything(0)\n    start = MLPScratch(784, 256, 10, lr=0.1)\n"
       "    histories = {}\n    for lr in (0.01, 0.1, 1.0):\n        model = copy.deepcopy(start)\n        model.lr = lr\n"
       "        histories[lr] = d2lmini.Trainer(max_epochs=2, seed=0, progress='none').fit(model, data)\n"
       "    return histories", status="correct")
answer("sweep-val-acc-numbers", "experiment: quantity", "check_lr_sweep", FORWARD,
       sweep(returned="{lr: h.final['val_loss'] for lr, h in histories.items()}"), words=("float",))

# ---------------------------------------------------------------------------
# Experiments of the concise lab: GELU with its gain, depth at a fixed size

GELU = """\
def gelu_network(he):
    layers = [nn.Flatten()]
    for d_in, d_out in pairwise([784, *[{width}] * {depth}]):
        layers += [nn.Linear(d_in, d_out), {activation}]
    layers.append(nn.Linear({width}, 10))
    if he:
        for layer in layers:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
{bias}
    return nn.Sequential(*layers)


def gelu_gain():
    results = {{}}
    for name, he in (("default", False), ("gain", True)):
        d2lmini.seed_everything(0)
        model = Net(gelu_network(he), lr=0.1)
        results[{key}] = d2lmini.Trainer(max_epochs=3, seed=0, progress="none").fit(model, data).final[{metric}]
    return results
"""
RIGHT_GELU = dict(width=128, depth=5, activation="nn.GELU()", bias="                nn.init.zeros_(layer.bias)",
                  key="name", metric='"val_acc"')


def gelu(**changes: str | int) -> str:
    return GELU.format(**{**RIGHT_GELU, **changes})


answer("gelu-right", "correct variant", "check_gelu_gain", gelu(), status="correct")
answer("gelu-swapped", "experiment: quantity", "check_gelu_gain",
       gelu(key='"gain" if name == "default" else "default"'), words=("swapped",))
answer("gelu-no-he", "experiment: protocol", "check_gelu_gain",
       gelu().replace("                nn.init.kaiming_normal_(layer.weight, nonlinearity=\"relu\")\n", "                pass\n"),
       words=("chapter's initialisation",))
answer("gelu-bias-kept", "experiment: protocol", "check_gelu_gain", gelu(bias=""), words=("zero",))
answer("gelu-relu", "experiment: protocol", "check_gelu_gain", gelu(activation="nn.ReLU()"), words=("GELU",))
answer("gelu-val-loss", "experiment: quantity", "check_gelu_gain", gelu(metric='"val_loss"'), words=("validation loss",))
answer("gelu-four-layers", "experiment: protocol", "check_gelu_gain", gelu(depth=4), words=("five hidden layers",))

DEPTH = """\
TARGET = d2lmini.mlp_parameter_count([784, 256, 10])


def he_mlp(depth, width):
    sizes = [784, *[width] * depth]
    layers = [nn.Flatten()]
    for d_in, d_out in pairwise(sizes):
        layers += [nn.Linear(d_in, d_out), nn.ReLU()]
    layers.append(nn.Linear(width, 10))
{init}    return nn.Sequential(*layers)


def depth_at_fixed_size():
    results = {{}}
    for depth in (1, 2, 3):
        width = {width}
        d2lmini.seed_everything(0)
        model = Net(he_mlp(depth, width), lr=0.1)
        history = d2lmini.Trainer(max_epochs=3, seed=0, progress="none").fit(model, data)
        results[{key}] = {{"params": {params}, "val_acc": {val_acc}}}
    return results
"""
RIGHT_DEPTH = dict(
    init="    for layer in layers:\n        if isinstance(layer, nn.Linear):\n"
    "            nn.init.kaiming_normal_(layer.weight, nonlinearity='relu')\n            nn.init.zeros_(layer.bias)\n",
    width="min(range(8, 1024), key=lambda w: abs(d2lmini.mlp_parameter_count([784, *[w] * depth, 10]) - TARGET))",
    key="depth", params="d2lmini.count_parameters(model)", val_acc='history.final["val_acc"]',
)


def depth(**changes: str) -> str:
    return DEPTH.format(**{**RIGHT_DEPTH, **changes})


answer("depth-right", "correct variant", "check_depth_at_fixed_size", depth(), status="correct")
answer("depth-no-he", "experiment: protocol", "check_depth_at_fixed_size", depth(init=""), words=("He initialisation",))
answer("depth-same-width", "experiment: protocol", "check_depth_at_fixed_size", depth(width="256"), words=("closest to",))
answer("depth-weights-only", "experiment: quantity", "check_depth_at_fixed_size",
       depth(params="sum(p.numel() for p in model.parameters() if p.dim() > 1)"), words=("203,530 parameters",))
answer("depth-val-loss", "experiment: quantity", "check_depth_at_fixed_size",
       depth(val_acc='history.final["val_loss"]'), words=("validation loss",))
answer("depth-first-epoch", "experiment: quantity", "check_depth_at_fixed_size",
       depth(val_acc='history["val_acc"][0]'), words=("after epoch 1",))
answer("depth-keys-from-zero", "off-by-one", "check_depth_at_fixed_size", depth(key="depth - 1"), words=("missing",))
answer("depth-test-accuracy", "experiment: quantity", "check_depth_at_fixed_size",
       depth(val_acc="(model(data.transform(data.test_X)).argmax(1) == data.test_y).float().mean().item()"),
       words=("test set",))
answer("depth-train-accuracy", "experiment: quantity", "check_depth_at_fixed_size",
       depth(val_acc="(model(data.transform(data.train_X)).argmax(1) == data.train_y).float().mean().item()"),
       words=("training set",))
