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
from d2lmini.explain import explain, hint_for_labels
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
    outcome,
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
         r"input has shape \(16, 1, 28, 28\): the images are not flattened\. Flatten them first: nn\.Flatten\(\) as "
         r"the first layer, or X\.reshape\(len\(X\), -1\) in forward\.")  # fmt: skip
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
         r"epoch is smaller when the batch size does not divide the data \(Fashion-MNIST's 50,000 training images are "
         r"195 batches of 256 and one of 80\)\. Let the batch size follow the data: X\.reshape\(len\(X\), -1\) or "
         r"X\.reshape\(-1, 784\)\.", keeps=0)  # fmt: skip
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
         r"each image into several rows, as a reshape to the wrong width does, such as X\.reshape\(-1, 28\); flatten "
         r"per image: X\.reshape\(len\(X\), -1\) or nn\.Flatten\(\)\): forward must return one row per "
         r"image\.")  # fmt: skip
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
@mistake("dtypes", DTYPES, r"linear got a float32 tensor of shape \(16, 784\) and self\.net\.1\.weight \(float64, "
         r"\(32, 784\)\), two dtypes: the model's parameters are float64 \(made with \.double\(\)\?\): call "
         r"model\.float\(\)")  # fmt: skip
def model_made_double(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()).double(), data)


@mistake("dtypes", DTYPES, r"float64 because torch\.set_default_dtype\(torch\.float64\) was called before it was "
         r"built: set it back, torch\.set_default_dtype\(torch\.float32\), and build the model again \(or call "
         r"model\.float\(\)\)\.")  # fmt: skip
def float64_default_dtype_from_an_earlier_cell(data: FashionMNIST) -> Any:
    torch.set_default_dtype(torch.float64)
    try:
        model = Net(*mlp())
        return fit(model, data)
    finally:
        torch.set_default_dtype(torch.float32)


@mistake("dtypes", DTYPES, r"the input is float64, NumPy's default \(torch\.from_numpy keeps it\): convert it with "
         r"X\.float\(\) or torch\.tensor\(array, dtype=torch\.float32\)\.")  # fmt: skip
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
         r"outputs of shape \(16, 10\) and int64 class labels of shape \(16,\): for classes, use "
         r"F\.cross_entropy\(y_hat, y\): the logits and one class index per image\.")  # fmt: skip
def mean_squared_error_on_class_labels(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: F.mse_loss(m(X), y)), data)


# What the steps return
@mistake("step results", BACKWARD_WITHOUT_GRAD, r"validation_step failed on a batch of shapes \(16, 1, 28, 28\), "
         r"\(16,\)\. It calls \.backward\(\) where no gradients are recorded: validation runs under "
         r"torch\.no_grad\(\), as nothing is learnt from validation data\. The Trainer does the backward pass in "
         r"training; "
         r"validation_step only computes and returns metrics\.")  # fmt: skip
def backward_copied_into_validation_step(data: FashionMNIST) -> Any:
    class MLP(Net):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            loss = self.loss(self(batch[0]), batch[1])
            loss.backward()
            return loss

    return fit(MLP(*mlp()), data)


# Structures PyTorch cannot run
@mistake("structure", NO_FORWARD, r"self\.layers is an nn\.ModuleList: it holds layers but cannot be called, it has no "
         r"forward\. Call its layers in forward, in a loop \(for layer in self\.layers: X = layer\(X\)\), or use "
         r"nn\.Sequential\(\.\.\.\), which runs them in order\.")  # fmt: skip
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
         r"learning: no gradient flows back through NumPy\. Compute it with torch operations instead \(torch\.relu, "
         r"torch\.exp, torch\.maximum, \.\.\.\)\.")  # fmt: skip
def numpy_relu_in_forward(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            H = np.maximum(X.reshape(len(X), -1) @ self.W1 + self.b1, 0)
            return torch.as_tensor(H) @ self.W2 + self.b2

    return fit(MLP(), data)


@mistake("structure", LOSS_MADE_WITH_TENSORS, r"nn\.CrossEntropyLoss got tensors when it was made: "
         r"nn\.CrossEntropyLoss\(\.\.\.\) takes settings and makes a loss; call that on the tensors: "
         r"nn\.CrossEntropyLoss\(\)\(y_hat, y\) \(or the function F\.cross_entropy\(y_hat, y\)\)\.")  # fmt: skip
def loss_class_called_with_the_tensors(data: FashionMNIST) -> Any:
    class MLP(Net):
        def loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return nn.CrossEntropyLoss(y_hat, y)

    return fit(MLP(*mlp()), data)


# Data and loaders
@mistake("data", TOO_MANY_INPUTS, r"forward takes 1 input, but got 2, of shapes \(16, 1, 28, 28\), \(16,\)\. The "
         r"Trainer's steps pass every item of a batch but the last \(the labels\) to forward: a loader whose batches "
         r"have 3 items instead of \(X, y\) gives it 2\. Make the loader yield \(X, y\), or unpack the extra items in "
         r"your own training_step and validation_step\.")  # fmt: skip
def batches_with_indices(data: FashionMNIST) -> Any:
    return fit(Net(*mlp()), batches_of(data, lambda X, y: (X, y, torch.arange(len(y)))))


@mistake("data", TypeError, r"forward takes 2 inputs, but got 1, of shapes \(16, 1, 28, 28\)\. The Trainer's steps "
         r"pass every item of a batch but the last \(the labels\) to forward: the labels never reach forward\. Let "
         r"forward compute the outputs from the inputs alone, and the loss compare them with the labels: Module's "
         r"training_step does, self\.loss\(self\(X\), y\)\.")  # fmt: skip
def loss_computed_in_forward(data: FashionMNIST) -> Any:
    class MLP(Net):
        def forward(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            return F.cross_entropy(self.net(X), y)

    return fit(MLP(*mlp()), data)


# Devices
@mistake("devices", DEVICES, r"linear got tensors on different devices: a float32 tensor of shape \(8, 784\) on cpu, "
         r"self\.net\.1\.weight \(float32, \(32, 784\)\) on meta, self\.net\.1\.bias \(float32, \(32,\)\) on meta\. "
         r"Move the input to the model's device \(X\.to\(device\), with device = "
         r"next\(model\.parameters\(\)\)\.device\), or use the Trainer, which moves both\.")  # fmt: skip
def model_moved_to_another_device_by_hand(data: FashionMNIST) -> Any:
    model = Net(*mlp()).to("meta")  # as model.to("cuda") on Colab
    return model(data.transform(data.val_X[:8]))


LOSS_DEVICES = raw(lambda: F.cross_entropy(torch.zeros(4, 10), torch.zeros(4, dtype=torch.long),
                                            weight=torch.ones(10, device="meta")))  # fmt: skip


@mistake("devices", LOSS_DEVICES, r"training_step failed on a batch of shapes \(16, 1, 28, 28\), \(16,\)\. "
         r"cross_entropy got tensors on different devices: a float32 tensor of shape \(16, 10\) on cpu, an int64 "
         r"tensor of shape \(16,\) on cpu, a float32 tensor of shape \(10,\) on meta\. A tensor made in a step, or "
         r"kept in the model as a plain attribute, stays where it was made when the model and the batch move: make "
         r"it on the batch's device \(device=y\.device\), or register it in __init__ as a buffer, which moves with "
         r"the model: self\.register_buffer\(\"weight\", w\)\.$")  # fmt: skip
def class_weights_kept_as_a_plain_attribute(data: FashionMNIST) -> Any:
    class MLP(Net):
        def __init__(self) -> None:
            super().__init__(*mlp())
            # A plain attribute: model.to(device) leaves it where it was made. On Colab it stays on the CPU while the
            # Trainer moves the model and the batch to CUDA; here the meta device stands in for the device left behind.
            self.class_weights = torch.ones(10, device="meta")

        def training_step(self, batch):  # type: ignore[no-untyped-def]
            return F.cross_entropy(self(batch[0]), batch[1], weight=self.class_weights)

    return fit(MLP(), data)


# Mistakes found by mutation testing (tests/MUTATION.md): each pins the words of one more hint -----------------------
MEAN_OF_INTEGERS = raw(lambda: torch.zeros(2, dtype=torch.uint8).mean())
LONG_OUTPUTS = raw(lambda: F.cross_entropy(torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long)))
LABEL_COLUMN = raw(lambda: F.cross_entropy(torch.zeros(4, 10), torch.zeros(4, 1, dtype=torch.long)))
TOO_FEW_OUTPUTS = raw(lambda: F.cross_entropy(torch.zeros(4, 2), torch.full((4,), 9)))
ONE_HOT_OUT_OF_RANGE = raw(lambda: F.one_hot(torch.tensor([10]), 10))
MM_OF_IMAGES = raw(lambda: torch.mm(X, W.T))
ADDMM_OF_IMAGES = raw(lambda: torch.addmm(torch.zeros(10), X, W.T))


class Normalising(Net):
    """A model that standardises its input itself, as a student who skipped the data module's transform might."""

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net((X - X.mean()) / X.std())


def evaluated(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> Any:
    """``Trainer.evaluate`` on a plain loader: no data module, so the number of classes is not known."""
    return Trainer(1, device="cpu", progress="none").evaluate(model, TensorLoader(X, y, batch_size=16, shuffle=False))


@mistake("shapes", SHAPES, r"the layer's weight \(an nn\.Linear\(784, 32\)\) takes 784 features per example, but the "
         r"input has shape \(16, 1, 28, 28\): the images are not flattened")  # fmt: skip
def scratch_forward_with_f_linear_on_transposed_weights(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return F.linear(torch.relu(F.linear(X, self.W1.T, self.b1)), self.W2.T, self.b2)

    return fit(MLP(), data)


@mistake("shapes", SHAPES, r"X @ W with W of shape \(784, 32\) needs 784 columns in X, but the input has shape "
         r"\(16, 1, 28, 28\): the images are not flattened")  # fmt: skip
def nn_linear_weights_used_by_hand_without_flatten(data: FashionMNIST) -> Any:
    class MLP(Net):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.net[2:](X @ self.net[0].weight.T + self.net[0].bias)

    return fit(MLP(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)), data)


@mistake("shapes", MM_OF_IMAGES, r"X @ self\.W1 with W of shape \(784, 32\) needs 784 columns in X, but the input has "
         r"shape \(16, 1, 28, 28\): the images are not flattened")  # fmt: skip
def scratch_forward_with_torch_mm_without_reshape(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return torch.mm(torch.relu(torch.mm(X, self.W1) + self.b1), self.W2) + self.b2

    return fit(MLP(), data)


@mistake("shapes", ADDMM_OF_IMAGES, r"X @ self\.W1 with W of shape \(784, 32\) needs 784 columns in X, but the input "
         r"has shape \(16, 1, 28, 28\): the images are not flattened")  # fmt: skip
def scratch_forward_with_torch_addmm_without_reshape(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return torch.addmm(self.b2, torch.relu(torch.addmm(self.b1, X, self.W1)), self.W2)

    return fit(MLP(), data)


@mistake("shapes", SHAPES, r"self\.net\.0 \(an nn\.Linear\(784, 32\)\) takes 784 features per example, but the input "
         r"has shape \(16, 1, 28, 28\): the images are not flattened")  # fmt: skip
def no_flatten_layer_and_no_biases(data: FashionMNIST) -> Any:
    return fit(Net(nn.Linear(784, 32, bias=False), nn.ReLU(), nn.Linear(32, 10, bias=False)), data)


@mistake("shapes", SHAPES, r"self\.net\.0 \(an nn\.Linear\(784, 32\)\) takes 784 features per example, but the input "
         r"has shape \(16, 28, 28\): the images are not flattened")  # fmt: skip
def images_without_a_channel_axis_and_no_flatten(data: FashionMNIST) -> Any:
    return fit(Net(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)), batches_of(data, lambda X, y: (X[:, 0], y)))


@mistake("shapes", SHAPES, r"self\.net\.0 \(an nn\.Linear\(1024, 32\)\) takes 1024 features per example, but got "
         r"inputs of shape \(16, 1, 28, 28\), 28 features: each layer's input size must equal the previous layer's "
         r"output size, and the first layer's the number of values in one image\.")  # fmt: skip
def model_for_32x32_images_without_flatten(data: FashionMNIST) -> Any:
    return fit(Net(nn.Linear(1024, 32), nn.ReLU(), nn.Linear(32, 10)), data)


@mistake("shapes", BAD_RESHAPE, r"The reshape asks for 24 examples, but this batch has 16", keeps=0)
def batch_size_written_into_forward_on_flat_images(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:  # already flat, as rows of a CSV file; a tuple of sizes
            return torch.relu(X.reshape((24, 784)) @ self.W1 + self.b1) @ self.W2 + self.b2

    data.batch_size = 24
    return fit(MLP(), batches_of(data, lambda X, y: (X.flatten(1), y)))


@mistake("shapes", BAD_RESHAPE, r"The reshape asks for 1 example, but this batch has 16")
def forward_copied_from_a_cell_that_ran_one_image(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return torch.relu(X.reshape(1, 784) @ self.W1 + self.b1) @ self.W2 + self.b2

    return fit(MLP(), data)


@mistake("shapes", BAD_RESHAPE, r"The reshape asks for 24 examples, but this batch has 16", keeps=0)
def batch_size_written_into_the_labels_reshape(data: FashionMNIST) -> Any:
    data.batch_size = 24
    return fit(Stepping(lambda m, X, y: F.cross_entropy(m(X), y.reshape(24, 1)[:, 0])), data)


@mistake("shapes", BAD_RESHAPE, r"A tensor of shape \(16, 1, 28, 28\) \(12544 values, 784 per example\) cannot take "
         r"the shape \(16, 3072\): the sizes must multiply to the same number of values\.")  # fmt: skip
def forward_copied_from_a_cifar_model(data: FashionMNIST) -> Any:
    class MLP(Net):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.net(X.reshape(len(X), 3 * 32 * 32))

    return fit(MLP(nn.Linear(3072, 10)), data)


@mistake("shapes", BATCH_SIZES, r"The model's outputs have 24 rows for 16 labels: forward must return one row per "
         r"image\.")  # fmt: skip
def step_on_the_images_of_an_earlier_cell(data: FashionMNIST) -> Any:
    X_seen = data.transform(data.val_X[:24])  # the X of a cell that looked at the data
    return fit(Stepping(lambda m, X, y: F.cross_entropy(m(X_seen), y)), data)


@mistake("dtypes", MEAN_OF_INTEGERS, r"forward failed on an input of shape \(8, 1, 28, 28\)\. The images are raw uint8 "
         r"pixels \(0 to 255, such as data\.val_X\): convert them with data\.transform\(X\)")  # fmt: skip
def raw_pixels_standardised_in_forward(data: FashionMNIST) -> Any:
    return Normalising(*mlp())(data.val_X[:8])


@mistake("dtypes", MEAN_OF_INTEGERS, r"forward failed on an input of shape \(8, 1, 28, 28\)\. The input is int64, but "
         r"self\.net\.1\.weight is float32: layers compute with floats: X\.float\(\)\.")  # fmt: skip
def integer_pixels_standardised_in_forward(data: FashionMNIST) -> Any:
    return Normalising(*mlp())(data.val_X[:8].long())


@mistake("labels", LONG_OUTPUTS, r"The loss got int64 values of shape \(16,\) as the model's outputs: it takes the "
         r"float logits first and the labels second: F\.cross_entropy\(y_hat, y\)\.")  # fmt: skip
def loss_on_the_predicted_classes(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: F.cross_entropy(m(X).argmax(dim=1), y)), data)


@mistake("labels", LABEL_COLUMN, r"The loss got outputs of shape \(16, 10\) and labels of shape \(16, 1\): it wants "
         r"logits of shape \(batch, classes\) and one label per row\.")  # fmt: skip
def labels_as_a_column(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: F.cross_entropy(m(X), y.reshape(-1, 1))), data)


@mistake("labels", TOO_FEW_OUTPUTS, r"The model has fewer outputs than there are classes: 2 outputs, but label 9 "
         r"needs at least 10: give the last layer one output per class \(with 2 classes, labels run from 0 to "
         r"1\)\.")  # fmt: skip
def two_outputs_as_for_a_yes_or_no_classifier(data: FashionMNIST) -> Any:
    return evaluated(Net(nn.Flatten(), nn.Linear(784, 2)), data.transform(data.val_X), data.val_y)


@mistake("labels", TOO_FEW_OUTPUTS, r"The model has fewer outputs than there are classes: 9 outputs, but label 9 "
         r"needs at least 10: give the last layer one output per class \(with 9 classes, labels run from 0 to "
         r"8\)\.")  # fmt: skip
def one_output_short(data: FashionMNIST) -> Any:
    return evaluated(Net(nn.Flatten(), nn.Linear(784, 9)), data.transform(data.val_X), data.val_y)


@mistake("labels", ONE_HOT_OUT_OF_RANGE, r"validation_step failed on a batch of shapes \(16, 1, 28, 28\), \(16,\)\. "
         r"The labels are out of range: this batch has labels from 1 to 10, but the data has 10 classes: labels 0 "
         r"to 9\.")  # fmt: skip
def labels_counted_from_one_into_one_hot_targets(data: FashionMNIST) -> Any:
    class MLP(Net):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            X, y = batch
            return F.mse_loss(torch.softmax(self(X), dim=1), F.one_hot(y, 10).float())

    own = batches_of(data, lambda X, y: (X, y + 1))  # labels 1 to 10, as in a dataset that counts from one
    return Trainer(1, device="cpu", progress="none").evaluate(MLP(*mlp()), own)


# Mistakes found by mutation testing, second pass: the hints of failed calls and of the traceback ---------------------
NUMPY_METHOD = raw(lambda: (torch.zeros(3, requires_grad=True) * 2).numpy())
BATCH_NORM_DTYPES = raw(lambda: nn.BatchNorm1d(4)(torch.zeros(2, 4, dtype=torch.float64)))
LAYER_MADE_WITH_TENSORS = raw(lambda: nn.Dropout(torch.zeros(4, 10), 0.5))


class Relu(nn.Module):
    """The scratch lab's activation written as a layer of its own, as the chapters write DropoutFromScratch."""

    def foward(self, X: torch.Tensor) -> torch.Tensor:  # misspelt: nn.Module finds no forward
        return torch.maximum(X, torch.zeros_like(X))


@mistake("structure", NUMPY_METHOD, r"forward hands a tensor that records gradients to NumPy\. PyTorch's advice, "
         r"\.detach\(\)\.numpy\(\), would silence the error")  # fmt: skip
def numpy_method_in_forward(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            H = X.reshape(len(X), -1) @ self.W1 + self.b1
            return torch.from_numpy(np.maximum(H.numpy(), 0)) @ self.W2 + self.b2

    return fit(MLP(), data)


@mistake("structure", LOSS_MADE_WITH_TENSORS, r"nn\.MSELoss got tensors when it was made: nn\.MSELoss\(\.\.\.\) takes "
         r"settings and makes a loss; call that on the tensors: nn\.MSELoss\(\)\(y_hat, y\)\.$")  # fmt: skip
def mse_loss_class_called_with_the_tensors(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: nn.MSELoss(torch.softmax(m(X), dim=1), F.one_hot(y, 10).float())), data)


@mistake("structure", LAYER_MADE_WITH_TENSORS, r"forward failed on an input of shape \(8, 1, 28, 28\)\. nn\.Dropout "
         r"got tensors when it was made: nn\.Dropout\(\.\.\.\) takes settings and makes a layer; make it once, in "
         r"__init__ \(self\.layer = nn\.Dropout\(\.\.\.\)\), and call that on the tensors in forward: self\.layer\(X\) "
         r"\(or the function F\.dropout\(X, p, training=self\.training\)\)\.$")  # fmt: skip
def dropout_class_called_with_the_tensors(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            H = torch.relu(X.reshape(len(X), -1) @ self.W1 + self.b1)
            return nn.Dropout(H, 0.5) @ self.W2 + self.b2  # F.dropout(H, 0.5), written with the layer's class

    return MLP()(data.transform(data.val_X[:8]))


@mistake("structure", NO_FORWARD, r"forward failed on an input of shape \(16, 1, 28, 28\)\. "
         r"self\.net\.2 \(Relu\) has no forward method \(it has foward: a misspelling\?\): define "
         r"forward\(self, X\)\.$")  # fmt: skip
def layer_with_a_misspelt_forward(data: FashionMNIST) -> Any:
    return fit(Net(nn.Flatten(), nn.Linear(784, 32), Relu(), nn.Linear(32, 10)), data)


def relu_with_forward_named(method: str) -> nn.Module:
    """A Relu layer whose forward has another name."""
    return type("Relu", (nn.Module,), {method: lambda self, X: torch.maximum(X, torch.zeros_like(X))})()


@mistake("structure", NO_FORWARD, r"self\.net\.2 \(Relu\) has no forward method \(it has fwd: a misspelling\?\)")
def layer_with_forward_abbreviated(data: FashionMNIST) -> Any:
    return fit(Net(nn.Flatten(), nn.Linear(784, 32), relu_with_forward_named("fwd"), nn.Linear(32, 10)), data)


@mistake("structure", NO_FORWARD, r"self\.net\.2 \(Relu\) has no forward method \(it has _forward: a misspelling\?\)")
def layer_with_forward_made_private(data: FashionMNIST) -> Any:
    return fit(Net(nn.Flatten(), nn.Linear(784, 32), relu_with_forward_named("_forward"), nn.Linear(32, 10)), data)


@mistake("structure", NO_FORWARD, r"self\.net\.2 \(Relu\) has no forward method: define forward\(self, X\)\.$")
def layer_with_keras_call_for_forward(data: FashionMNIST) -> Any:
    return fit(Net(nn.Flatten(), nn.Linear(784, 32), relu_with_forward_named("call"), nn.Linear(32, 10)), data)


@mistake("structure", NO_FORWARD, r"forward failed on a batch of shapes \(16, 1, 28, 28\), \(16,\)\. the model \(MLP\) "
         r"has no forward method \(it has foward: a misspelling\?\): define forward\(self, X\)\.$")  # fmt: skip
def plain_module_with_a_misspelt_forward(data: FashionMNIST) -> Any:
    class MLP(nn.Module):  # a plain nn.Module, as in the chapters' own layers
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(*mlp())

        def foward(self, X: torch.Tensor) -> torch.Tensor:
            return self.net(X)

    return Trainer(1, device="cpu", progress="none").predict(MLP(), data.val_dataloader())


@mistake("shapes", BAD_RESHAPE, r"The reshape asks for 24 examples, but this batch has 16", keeps=0)
def batch_size_written_into_a_view(data: FashionMNIST) -> Any:
    class MLP(Net):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.net(X.view(24, 784))

    data.batch_size = 24
    return fit(MLP(*mlp()[1:]), data)


@mistake("shapes", BAD_RESHAPE, r"The reshape asks for 24 examples, but this batch has 16", keeps=0)
def batch_size_written_into_a_reshape_by_keyword(data: FashionMNIST) -> Any:
    class MLP(Net):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return self.net(torch.reshape(X, shape=(24, 784)))

    data.batch_size = 24
    return fit(MLP(*mlp()[1:]), data)


@mistake("dtypes", BATCH_NORM_DTYPES, r"batch_norm got a float64 tensor of shape \(16, 784\) and self\.net\.1\.weight "
         r"\(float32, \(784,\)\), two dtypes: the input is float64, NumPy's default")  # fmt: skip
def float64_numpy_images_into_batch_norm(data: FashionMNIST) -> Any:
    images = data.train_X.numpy() / 255.0  # NumPy computes in float64
    val = data.val_X.numpy() / 255.0
    own = Batches([(torch.from_numpy(images[i : i + 16]), data.train_y[i : i + 16]) for i in range(0, 64, 16)],
                  [(torch.from_numpy(val[i : i + 16]), data.val_y[i : i + 16]) for i in range(0, 32, 16)])  # fmt: skip
    return fit(Net(nn.Flatten(), nn.BatchNorm1d(784), *mlp()[1:]), own)


@mistake("labels", TOO_FEW_OUTPUTS, r"validation_step failed on a batch of shapes \(16, 1, 28, 28\), \(16,\)\. "
         r"The labels are out of range: this batch has labels from 1 to 10, but the data has 10 classes: labels 0 "
         r"to 9\.")  # fmt: skip
def labels_counted_from_one_into_the_loss(data: FashionMNIST) -> Any:
    own = batches_of(data, lambda X, y: (X, y + 1))  # labels 1 to 10, as in a dataset that counts from one
    return Trainer(1, device="cpu", progress="none").evaluate(Net(*mlp()), own)


# Mistakes the tensors do not explain: PyTorch's message is left alone, with no made-up hint -------------------------
REDUCTION = raw(lambda: F.cross_entropy(torch.zeros(4, 10), torch.zeros(4, dtype=torch.long), reduction="x"))
UNEXPLAINED: list[Mistake] = []
unexplained = register_in(UNEXPLAINED)


class Unexplained(Net):
    """A model whose forward makes a mistake that ``make(X)`` shows, with an option as students add them."""

    def __init__(self, make: Any) -> None:
        super().__init__(nn.Flatten(), nn.Linear(784, 10))
        self.make = make

    def forward(self, X: torch.Tensor, return_hidden: bool = False) -> torch.Tensor:
        return self.net(self.make(X))


@unexplained("reshape", raw(lambda: X.reshape(len(X), 28)))
def reshape_to_rows_of_the_image_width(data: FashionMNIST) -> Any:
    return fit(Unexplained(lambda X: X.reshape(len(X), 28)), data)


@unexplained("reshape", raw(lambda: X.reshape(784)))
def reshape_of_a_batch_to_one_image(data: FashionMNIST) -> Any:
    return fit(Unexplained(lambda X: X.reshape(784)), data)


@unexplained("reshape", raw(lambda: X.reshape(len(X), X.numel() / len(X))))
def size_computed_with_true_division(data: FashionMNIST) -> Any:
    return fit(Unexplained(lambda X: X.reshape(len(X), X.numel() / len(X))), data)


@unexplained("shapes", raw(lambda: X * W.T))
def elementwise_product_for_a_matrix_product(data: FashionMNIST) -> Any:
    class MLP(Scratch):
        def forward(self, X: torch.Tensor) -> torch.Tensor:
            return torch.relu(X * self.W1 + self.b1) @ self.W2 + self.b2

    return fit(MLP(), data)


@unexplained("loss", REDUCTION)
def reduction_misspelt(data: FashionMNIST) -> Any:
    class MLP(Net):
        def validation_step(self, batch):  # type: ignore[no-untyped-def]
            return F.cross_entropy(self(batch[0]), batch[1], reduction="average")

    return Trainer(1, device="cpu", progress="none").evaluate(MLP(*mlp()), data)  # labels 0 to 9, all in range


@unexplained("loss", raw(lambda: F.cross_entropy(torch.zeros(4, 10), np.zeros(4, dtype=np.int64))))
def numpy_labels_in_the_loss(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: F.cross_entropy(m(X), y.numpy())), data)


@unexplained("loss", REDUCTION)
def reduction_misspelt_in_a_step_that_unpacks_weighted_batches(data: FashionMNIST) -> Any:
    class MLP(Net):
        def training_step(self, batch):  # type: ignore[no-untyped-def]
            X, weights, y = batch  # one weight per example, the labels last
            return (F.cross_entropy(self(X), y, reduction="nothing") * weights).mean()

    return fit(MLP(*mlp()), batches_of(data, lambda X, y: (X, torch.ones(len(y)), y)))


@unexplained("loss", raw(lambda: torch.zeros(4, 10).gather(1, torch.zeros(4, dtype=torch.long))))
def own_cross_entropy_gathering_with_a_row_of_labels(data: FashionMNIST) -> Any:
    return fit(Stepping(lambda m, X, y: -torch.log_softmax(m(X), dim=1).gather(1, y).mean()), data)  # y[:, None]


@unexplained("structure", raw(lambda: nn.ModuleList([nn.ReLU()])[1]))
def module_list_indexed_past_its_end(data: FashionMNIST) -> Any:
    class MLP(Classifier):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(lr=0.1)
            self.layers = nn.ModuleList(mlp())

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            for i in range(len(self.layers) + 1):  # one too many
                X = self.layers[i](X)
            return X

    return fit(MLP(), data)


# The test ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", MISTAKES, ids=lambda case: case.name)
def test_a_student_mistake_gets_a_true_specific_message(case: Mistake, pixels: FashionMNIST) -> None:
    assert_true_specific_message(case, pixels)


@pytest.mark.parametrize("case", UNEXPLAINED, ids=lambda case: case.name)
def test_a_mistake_the_tensors_do_not_explain_keeps_pytorchs_message_alone(case: Mistake, pixels: FashionMNIST) -> None:
    err, _ = outcome(case, pixels)
    assert type(err) is case.expect, f"raised {err!r}, not a {case.expect.__name__}"  # type: ignore[union-attr]
    assert "failed on" not in str(err), str(err)  # no hint: a wrong one would send the student the wrong way


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


def test_an_error_that_was_never_raised_is_left_alone() -> None:
    """explain() on an exception made but not raised (no traceback): nothing to look at, nothing added."""
    err = RuntimeError("made by hand")
    explain(err, lambda: None, nn.Linear(2, 2), [torch.zeros(1, 2)], None, "forward")
    assert str(err) == "made by hand"


def test_float_labels_are_explained_word_for_word() -> None:
    assert hint_for_labels(torch.eye(10)[:4], 10) == (
        "The labels have shape (4, 10), a row of float32 per image (one-hot?): give one class index per image, of "
        "dtype torch.long, as the data module does (y.argmax(dim=1) converts)."
    )
    assert hint_for_labels(torch.tensor([1.0, 2.0]), 10) == (
        "The labels are float32: they must be class indices of dtype torch.long (int64), one per image, as the data "
        "module gives them: don't convert them with .float() (y.long() converts back)."
    )
