"""Module / Classifier base classes, add_to_class and the parameter counters."""

from __future__ import annotations

import warnings
from itertools import pairwise

import pytest
import torch
from torch import nn

from d2lmini.module import Classifier, Module, add_to_class, count_parameters, mlp_parameter_count


class Tiny(Classifier):
    def __init__(self, lr: float = 0.5) -> None:
        super().__init__()
        self.save_hyperparameters(lr=lr, width=3)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))


def test_hyperparameters_become_attributes() -> None:
    model = Tiny(lr=0.25)
    assert model.lr == 0.25 and model.width == 3
    assert model.hparams == {"lr": 0.25, "width": 3}
    assert "lr=0.25" in repr(model)


def test_add_to_class_returns_the_function() -> None:
    @add_to_class(Tiny)
    def double(self: Tiny, x: int) -> int:
        return 2 * x

    assert double is not None and double(None, 4) == 8
    assert Tiny().double(5) == 10


def test_classifier_steps_report_loss_and_accuracy() -> None:
    model = Tiny()
    with torch.no_grad():
        model.net[1].weight.zero_()
        model.net[1].bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    X, y = torch.randn(6, 2, 2), torch.tensor([1, 1, 1, 0, 2, 1])
    out = model.validation_step((X, y))
    assert out["acc"].item() == pytest.approx(4 / 6)
    expected = nn.functional.cross_entropy(model(X), y)
    assert out["loss"].item() == pytest.approx(expected.item())
    assert model.training_step((X, y))["loss"].requires_grad


def test_classifier_rejects_logits_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"expected logits of shape \(batch, classes\), got \(6,\)"):
        Tiny().loss(torch.zeros(6), torch.zeros(6, dtype=torch.long))


def test_default_optimizer_uses_lr_and_explains_when_missing() -> None:
    assert Tiny(lr=0.3).configure_optimizers().param_groups[0]["lr"] == 0.3

    class NoLr(Module):
        pass

    with pytest.raises(AttributeError, match=r"save_hyperparameters\(lr=...\)"):
        NoLr().configure_optimizers()
    with pytest.raises(NotImplementedError, match="needs a forward method"):
        NoLr()(torch.zeros(1))


@pytest.mark.parametrize("widths, expected", [([4, 5, 3], 4 * 5 + 5 + 5 * 3 + 3), ([6, 4, 3, 1], 47)])
def test_parameter_formula(widths: list[int], expected: int) -> None:
    assert mlp_parameter_count(widths) == expected
    layers = [nn.Linear(a, b) for a, b in pairwise(widths)]
    assert count_parameters(nn.Sequential(*layers)) == expected


def test_count_parameters_matches_numel_and_respects_frozen() -> None:
    net = nn.Sequential(nn.Linear(7, 2), nn.ReLU(), nn.Linear(2, 1))
    assert count_parameters(net) == sum(p.numel() for p in net.parameters()) == 19
    net[0].weight.requires_grad_(False)
    assert count_parameters(net) == 5 and count_parameters(net, trainable_only=False) == 19


def test_count_parameters_explains_lazy_layers() -> None:
    with pytest.raises(ValueError, match="run one batch through it first"):
        count_parameters(nn.LazyLinear(3))


def test_parameter_formula_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="two or more positive integers"):
        mlp_parameter_count([5])
    with pytest.raises(ValueError, match="two or more positive integers"):
        mlp_parameter_count([4, 0, 3])


def test_a_missing_super_init_is_named() -> None:
    class Forgetful(Classifier):
        def __init__(self) -> None:
            self.save_hyperparameters(lr=0.1)

    with pytest.raises(AttributeError, match=r"Forgetful is not set up yet: call super\(\)\.__init__\(\) first"):
        Forgetful()


@pytest.mark.parametrize(("lr", "error"), [("0.1", TypeError), (-0.1, ValueError), (0, ValueError)])
def test_the_default_optimizer_checks_the_learning_rate(lr: object, error: type) -> None:
    with pytest.raises(error, match=rf"^lr must be a positive number such as 0\.1, not {lr!r}\.$"):
        Tiny(lr=lr).configure_optimizers()  # type: ignore[arg-type]


def test_the_loss_names_what_forward_returned_instead_of_logits() -> None:
    y = torch.tensor([0, 2])
    with pytest.raises(TypeError, match=r"got a tuple as y_hat; forward must return one tensor, the logits"):
        Tiny().loss((torch.zeros(2, 3), torch.zeros(2, 4)), y)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got None \(is forward's return statement missing\?\) as y_hat"):
        Tiny().loss(None, y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"got torch\.int64 values as y_hat: it takes the model's outputs \(float "
                                         r"logits\) first and the labels second"):  # fmt: skip
        Tiny().loss(y, torch.zeros(2, 3))  # arguments swapped


def test_softmax_in_forward_is_pointed_out_once() -> None:
    model, y = Tiny(), torch.tensor([0, 2, 1])
    logits = torch.randn(3, 3)
    with pytest.warns(UserWarning, match=r"Tiny's forward seems to return probabilities .* Return the logits"):
        model.loss(torch.softmax(logits, dim=1), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.loss(torch.softmax(logits, dim=1), y)  # once per model
        Tiny().loss(logits.abs(), y)  # logits: no warning
        Tiny().loss(torch.log_softmax(logits, dim=1), y)  # log-probabilities are fine with cross-entropy


def test_repr_lists_the_hyperparameters() -> None:
    assert repr(Tiny(lr=0.25)).startswith("Tiny(\n  lr=0.25, width=3\n  (net): Sequential(")


def forward_error(cls: type[Module]) -> str:
    with pytest.raises(NotImplementedError) as caught:
        cls()(torch.zeros(2, 4))
    return str(caught.value)


def test_a_model_without_forward_or_net_is_told_what_to_write() -> None:
    class Net(Module):
        def format(self) -> str:  # a name near "forward" (difflib ratio 0.62), but no misspelling of it
            return "net"

    assert forward_error(Net) == "Net needs a forward method or a self.net."


@pytest.mark.parametrize("name", ["Forward", "froward", "forwad"])
def test_a_misspelt_forward_is_named(name: str) -> None:
    Net = type("Net", (Module,), {name: lambda self, X: X})
    assert forward_error(Net) == f"Net needs a forward method or a self.net. It has {name}: a misspelling of forward?"


def test_layers_kept_in_a_module_list_without_forward_are_pointed_at() -> None:
    class Net(Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 4), nn.ReLU()])

    assert forward_error(Net) == (
        "Net needs a forward method or a self.net. self.layers holds layers but does not run them: write forward "
        "with a loop, for layer in self.layers: X = layer(X), or use self.net = nn.Sequential(...)."
    )


class TwoInputs(Module):
    """A regression model with two inputs per example: its batches are (X1, X2, y)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))

    def forward(self, X1: torch.Tensor, X2: torch.Tensor) -> torch.Tensor:
        return self.scale * X1 - X2

    def loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((y_hat - y) ** 2).mean()


def test_the_default_steps_feed_every_input_and_take_the_labels_last() -> None:
    model = TwoInputs()
    X1, X2, y = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.0]), torch.tensor([1.0, 1.0])
    expected = ((2 * X1 - X2 - y) ** 2).mean()  # (0.5^2 + 3^2) / 2 = 4.625
    for step in (model.training_step, model.validation_step):
        assert step((X1, X2, y)) == {"loss": expected}
    model.training_step((X1, X2, y))["loss"].backward()
    assert model.scale.grad == torch.tensor(6.5)  # d/ds mean((s X1 - X2 - y)^2) = mean(2 (s X1 - X2 - y) X1)


def test_a_module_without_a_loss_says_so() -> None:
    class Net(Module):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return X

    with pytest.raises(NotImplementedError) as caught:
        Net().training_step((torch.zeros(2, 3), torch.zeros(2)))
    assert str(caught.value) == "Net needs a loss method."


def test_the_base_classes_messages_word_for_word() -> None:
    class Forgetful(Module):
        def __init__(self) -> None:
            self.save_hyperparameters(lr=0.1)

    class NoLr(Module):
        pass

    cases = [
        (lambda: count_parameters(nn.LazyLinear(3)), ValueError,
         "The module has lazy layers that are not initialised yet; run one batch through it first."),
        (Forgetful, AttributeError, "Forgetful is not set up yet: call super().__init__() first, at the start of its "
         "__init__, before save_hyperparameters or any layer."),
        (lambda: NoLr().configure_optimizers(), AttributeError,
         "NoLr has no learning rate: call self.save_hyperparameters(lr=...) or override configure_optimizers."),
        (lambda: Tiny().loss(torch.tensor([0, 2]), torch.zeros(2, 3)), ValueError,
         "loss(y_hat, y) got torch.int64 values as y_hat: it takes the model's outputs (float logits) first and the "
         "labels second, as in self.loss(self(X), y)."),
        (lambda: Tiny().loss(torch.zeros(6), torch.zeros(6, dtype=torch.long)), ValueError,
         "expected logits of shape (batch, classes), got (6,); does forward flatten its input and end in a layer "
         "with one output per class?"),
        (lambda: Tiny.accuracy(torch.zeros(2, 3), torch.eye(3)[:2]), ValueError,
         "accuracy compares each row's predicted class with its label, one class index per row, but the labels have "
         "shape (2, 3) (one-hot?): give class indices of dtype torch.long, as the data module does "
         "(y.argmax(dim=1) converts)."),
    ]  # fmt: skip
    for call, error, message in cases:
        with pytest.raises(error) as caught:
            call()
        assert str(caught.value) == message


def test_the_smallest_net_is_one_layer() -> None:
    assert mlp_parameter_count([784, 10]) == 7850  # softmax regression: two widths, one layer


def test_probabilities_with_exact_zeros_are_pointed_out_word_for_word() -> None:
    """Saturated softmax rows hold exact zeros (and one-hot rows are probabilities too)."""
    with pytest.warns(UserWarning) as caught:
        Tiny().loss(torch.eye(3), torch.tensor([0, 2, 1]))
    assert str(caught[0].message) == (
        "Tiny's forward seems to return probabilities (every row is >= 0 and sums to 1): the loss applies softmax "
        "itself, and a second softmax makes learning far slower. Return the logits, the last layer's output, "
        "without softmax."
    )


def test_the_softmax_warning_points_at_the_callers_line() -> None:
    with pytest.warns(UserWarning) as caught:
        Tiny().loss(torch.eye(3), torch.tensor([0, 2, 1]))
    assert caught[0].filename == __file__


class Switchable(Classifier):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def forward(self, X: torch.Tensor, flatten: bool = True) -> torch.Tensor:
        return self.net(X) if flatten else self.net[1](X)


def test_keyword_arguments_reach_forward_and_its_explained_failure() -> None:
    model, X = Switchable(), torch.zeros(2, 1, 28, 28)
    assert model(X, flatten=True).shape == (2, 10)
    with pytest.raises(RuntimeError) as caught:
        model(X, flatten=False)  # forgot to flatten: the keyword must reach the call that is looked at again
    assert "\nforward failed on an input of shape (2, 1, 28, 28). " in str(caught.value)
