"""Explaining failed calls (d2lmini/explain.py): what a step or a forward that fails says, fed real student mistakes.

Each mistake makes a PyTorch call fail inside the student's code; the message must name what went wrong from the
tensors involved, and the exception keep the type PyTorch raises for the bare mistake.  How the table runs and what
it asserts: tests/mistakes.py.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from d2lmini.data import FashionMNIST, TensorLoader
from d2lmini.module import Classifier
from d2lmini.train import Trainer
from tests.mistakes import (
    Batches,
    Mistake,
    Net,
    Scratch,
    Stepping,
    assert_true_specific_message,
    batches_of,
    fit,
    mlp,
    raw,
    register_in,
)

X, W = torch.zeros(4, 1, 28, 28), torch.zeros(10, 784)
SHAPES = raw(lambda: F.linear(X, W))
DTYPES = raw(lambda: F.linear(X.flatten(1), W.double()))
BATCH_SIZES = raw(lambda: F.cross_entropy(torch.zeros(8, 10), torch.zeros(4, dtype=torch.long)))
FLOAT_LABELS = raw(lambda: F.cross_entropy(torch.zeros(4, 10), torch.zeros(4)))
SWAPPED = raw(lambda: F.cross_entropy(torch.zeros(4, dtype=torch.long), torch.zeros(4, 10)))
NUMPY = raw(lambda: np.maximum(torch.zeros(3, requires_grad=True) * 2, 0))
NO_FORWARD = raw(lambda: nn.ModuleList([nn.ReLU()])(X))
LOSS_MADE_WITH_TENSORS = raw(lambda: nn.CrossEntropyLoss(torch.zeros(4, 10), torch.zeros(4, dtype=torch.long)))
BACKWARD_WITHOUT_GRAD = raw(lambda: torch.zeros(3).sum().backward())
TOO_MANY_INPUTS = raw(lambda: nn.Linear(2, 2)(X, X))
DEVICES = raw(lambda: F.linear(X.flatten(1), W.to("meta"), torch.zeros(10, device="meta")))
with warnings.catch_warnings():  # PyTorch warns about the broadcast before it fails
    warnings.simplefilter("ignore")
    MSE_ON_LABELS = raw(lambda: F.mse_loss(torch.zeros(4, 10), torch.zeros(4, dtype=torch.long)))
BAD_RESHAPE = raw(lambda: X.reshape(8, 784))


# The mistakes -------------------------------------------------------------------------------------------------------
MISTAKES: list[Mistake] = []
mistake = register_in(MISTAKES)


# Shapes
@mistake("shapes", SHAPES, r"self\.net\.0 \(an nn\.Linear\(784, 32\)\) takes 784 features per example, but the "
         r"input has shape \(16, 1, 28, 28\): the images are not flattened", r"nn\.Flatten\(\)")  # fmt: skip
def no_flatten_layer(data: FashionMNIST) -> Any:
    return fit(Net(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)), data)


@mistake("shapes", SHAPES, r"X @ self\.W1 with W of shape \(784, 32\) needs 784 columns in X, but the input has shape "
         r"\(16, 1, 28, 28\): the images are not flattened", r"X\.reshape\(len\(X\), -1\)")  # fmt: skip
def scratch_forward_without_reshape(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return torch.relu(X @ self.W1 + self.b1) @ self.W2 + self.b2

    return fit(MLP(), data)


@mistake("shapes", BAD_RESHAPE, r"The reshape asks for 24 examples, but this batch has 16: the last minibatch of an "
         r"epoch is smaller", r"X\.reshape\(len\(X\), -1\)", keeps=0)  # fmt: skip
def batch_size_written_into_forward(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return torch.relu(X.reshape(24, 784) @ self.W1 + self.b1) @ self.W2 + self.b2

    data.batch_size = 24  # 64 training images: batches of 24, 24 and 16
    return fit(MLP(), data)


@mistake("shapes", SHAPES, r"X @ W needs W of shape \(inputs, outputs\), \(784, \.\.\.\), but self\.W1 \(float32, "
         r"\(32, 784\)\) is the transpose", r"X @ layer\.weight\.T")  # fmt: skip
def weights_made_in_nn_linear_layout(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def __init__(self) -> None:
            super().__init__()
            self.W1 = nn.Parameter(0.01 * torch.randn(32, 784))  # (outputs, inputs), as nn.Linear stores it

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return torch.relu(X.reshape(len(X), -1) @ self.W1 + self.b1) @ self.W2 + self.b2

    return fit(MLP(), data)


@mistake("shapes", SHAPES, r"self\.net\.3 \(an nn\.Linear\(64, 10\)\) takes 64 features per example, but got inputs "
         r"of shape \(16, 32\), 32 features", r"each layer's input size must equal the previous layer's")  # fmt: skip
def layer_sizes_that_do_not_chain(data: FashionMNIST) -> Any:
    return fit(Net(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(64, 10)), data)


@mistake("shapes", BATCH_SIZES, r"The model's outputs have 448 rows for 16 labels \(28 times as many: forward turns "
         r"each image into several rows", r"X\.reshape\(len\(X\), -1\)")  # fmt: skip
def reshape_to_the_image_width(data: FashionMNIST) -> Any:
    class MLP(Net):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.net(X.reshape(-1, 28))

    return fit(MLP(nn.Linear(28, 10)), data)


@mistake("shapes", SHAPES, r"self\.net\.1 \(an nn\.Linear\(1024, 32\)\) takes 1024 features per example, but got "
         r"inputs of shape \(16, 784\), 784 features")  # fmt: skip
def model_for_32x32_images_on_28x28_data(data: FashionMNIST) -> Any:
    return fit(Net(nn.Flatten(), nn.Linear(1024, 32), nn.ReLU(), nn.Linear(32, 10)), data)


# dtypes
@mistake("dtypes", DTYPES, r"two dtypes: the model's parameters are float64 \(made with \.double\(\)\?\): call "
         r"model\.float\(\)")  # fmt: skip
def model_made_double(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()).double(), data)


@mistake("dtypes", DTYPES, r"float64 because torch\.set_default_dtype\(torch\.float64\) was called before it was "
         r"built: set it back, torch\.set_default_dtype\(torch\.float32\)")  # fmt: skip
def float64_default_dtype_from_an_earlier_cell(data: FashionMNIST) -> Any:
    torch.set_default_dtype(torch.float64)
    try:
        model = Net(*mlp())
        return fit(model, data)
    finally:
        torch.set_default_dtype(torch.float32)


@mistake("dtypes", DTYPES, r"the input is float64, NumPy's default \(torch\.from_numpy keeps it\): convert it with "
         r"X\.float\(\)")  # fmt: skip
def float64_numpy_images(data: FashionMNIST) -> Any:
    images = data.train_X.numpy() / 255.0  # NumPy computes in float64
    val = data.val_X.numpy() / 255.0
    own = Batches([(torch.from_numpy(images[i : i + 16]), data.train_y[i : i + 16]) for i in range(0, 64, 16)],
                  [(torch.from_numpy(val[i : i + 16]), data.val_y[i : i + 16]) for i in range(0, 32, 16)])  # fmt: skip
    return fit(Net(*mlp()), own)


@mistake("dtypes", DTYPES, r"forward failed on an input of shape \(8, 1, 28, 28\)\. The images are raw uint8 pixels "
         r"\(0 to 255, such as data\.val_X\): convert them with data\.transform\(X\)")  # fmt: skip
def raw_pixels_into_the_model(data: FashionMNIST) -> Any:
    return Net(*mlp())(data.val_X[:8])


@mistake("dtypes", DTYPES, r"The images are raw uint8 pixels .*data\.transform\(X\), to float32 in \[0, 1\], as the "
         r"data module's loaders do")  # fmt: skip
def loader_without_the_transform(data: FashionMNIST) -> Any:
    loader = TensorLoader(data.val_X, data.val_y, batch_size=16, shuffle=False)
    return Trainer(1, device="cpu", progress="none").evaluate(Net(*mlp()), loader)


@mistake("dtypes", DTYPES, r"two dtypes: convert one of them, X\.to\(torch\.float16\) or model\.to\(torch\.float32\)")
def model_made_half_on_the_cpu(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()).half(), data)


@mistake("dtypes", DTYPES, r"The input is int64, but self\.net\.1\.weight is float32: layers compute with floats")
def pixels_made_long(data: FashionMNIST) -> Any:
    loader = TensorLoader(data.val_X.long(), data.val_y, batch_size=16, shuffle=False)
    return Trainer(1, device="cpu", progress="none").predict(Net(*mlp()), loader)


# Labels
@mistake("labels", FLOAT_LABELS, r"The labels are float32: they must be class indices of dtype torch\.long \(int64\)",
         r"don't convert them with \.float\(\)")  # fmt: skip
def labels_made_float_in_the_step(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: F.cross_entropy(m(X), y.float())), data)


@mistake("labels", SWAPPED, r"The loss got int64 values of shape \(16,\) as the model's outputs \(the two look "
         r"swapped\): it takes the float logits first and the labels second")  # fmt: skip
def loss_arguments_swapped(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: F.cross_entropy(y, m(X))), data)


@mistake("labels", MSE_ON_LABELS, r"F\.mse_loss compares the outputs with targets of the same shape, but got "
         r"outputs of shape \(16, 10\) and int64 class labels of shape \(16,\)", r"use F\.cross_entropy")  # fmt: skip
def mean_squared_error_on_class_labels(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: F.mse_loss(m(X), y)), data)


# What the steps return
@mistake("step results", BACKWARD_WITHOUT_GRAD, r"validation_step failed on a batch of shapes \(16, 1, 28, 28\), "
         r"\(16,\)\. It calls \.backward\(\) where no gradients are recorded", r"validation runs under "
         r"torch\.no_grad\(\)")  # fmt: skip
def backward_copied_into_validation_step(data: FashionMNIST) -> Any:
    class MLP(Net):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            loss = self.loss(self(batch[0]), batch[1])
            loss.backward()
            return loss

    return fit(MLP(*mlp()), data)


# Structures PyTorch cannot run
@mistake("structure", NO_FORWARD, r"self\.layers is an nn\.ModuleList: it holds layers but cannot be called, it has no "
         r"forward\. Call its layers in forward, in a loop \(for layer in self\.layers: X = layer\(X\)\)")  # fmt: skip
def module_list_called_in_forward(data: FashionMNIST) -> Any:
    class MLP(Classifier):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.1)
            self.layers = nn.ModuleList(mlp())

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.layers(X)

    return fit(MLP(), data)


@mistake("structure", NUMPY, r"forward hands a tensor that records gradients to NumPy\. PyTorch's advice, "
         r"\.detach\(\)\.numpy\(\), would silence the error but silently stop every layer before that point from "
         r"learning")  # fmt: skip
def numpy_relu_in_forward(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            H = np.maximum(X.reshape(len(X), -1) @ self.W1 + self.b1, 0)
            return torch.as_tensor(H) @ self.W2 + self.b2

    return fit(MLP(), data)


@mistake("structure", LOSS_MADE_WITH_TENSORS, r"nn\.CrossEntropyLoss got tensors when it was made: "
         r"nn\.CrossEntropyLoss\(\.\.\.\) takes settings and makes a loss; call that on the tensors: "
         r"nn\.CrossEntropyLoss\(\)\(y_hat, y\)")  # fmt: skip
def loss_class_called_with_the_tensors(data: FashionMNIST) -> Any:
    class MLP(Net):
        def loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return nn.CrossEntropyLoss(y_hat, y)

    return fit(MLP(*mlp()), data)


# Data and loaders
@mistake("data", TOO_MANY_INPUTS, r"forward takes 1 input, but got 2, of shapes \(16, 1, 28, 28\), \(16,\)\. The "
         r"Trainer's steps pass every item of a batch but the last \(the labels\) to forward: a loader whose batches "
         r"have 3 items instead of \(X, y\) gives it 2")  # fmt: skip
def batches_with_indices(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()), batches_of(data, lambda X, y: (X, y, torch.arange(len(y)))))


# Devices
@mistake("devices", DEVICES, r"linear got tensors on different devices: a float32 tensor of shape \(8, 784\) on cpu, "
         r"self\.net\.1\.weight \(float32, \(32, 784\)\) on meta", r"X\.to\(device\)")  # fmt: skip
def model_moved_to_another_device_by_hand(data: FashionMNIST) -> Any:
    model = Net(*mlp()).to("meta")  # as model.to("cuda") on Colab
    return model(data.transform(data.val_X[:8]))


# The test ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", MISTAKES, ids=lambda case: case.name)
def test_a_student_mistake_gets_a_true_specific_message(case: Mistake, pixels: FashionMNIST) -> None:
    assert_true_specific_message(case, pixels)


def test_a_forward_stub_stays_a_bare_not_implemented_error(pixels: FashionMNIST) -> None:
    class Stub(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            raise NotImplementedError

    with pytest.raises(NotImplementedError) as err:
        fit(Stub(), pixels)
    assert type(err.value) is NotImplementedError and str(err.value) == ""


def test_an_explanation_is_added_once_and_only_to_the_message(pixels: FashionMNIST) -> None:
    model = Net(*mlp())
    with pytest.raises(DTYPES) as err:
        Trainer(1, device="cpu", progress="none").predict(model, [(pixels.val_X[:4], pixels.val_y[:4])])
    assert str(err.value).count("raw uint8 pixels") == 1  # forward explained it; predict did not repeat it
    assert len(err.value.args) == 1
