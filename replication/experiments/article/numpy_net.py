"""A1/A2: the article's NumPy MNIST network, trained with its hand-written "adjoint" rules.

The network, exactly as the article's code computes it (``func(u) = 1 / (1 + exp(-0.05 u))``)::

    z(0) = func(x · W1 − b1)                      784 → 100
    z ← func(z · W2 − b2) · dt + z                n Euler steps (article: n = 20, dt = 0.002)
    y    = func(z(T) · W3 − b3)                   100 → 10

All eight arrays are drawn uniformly from [0, 1) in the article's order
(w1, w2, w3, w2_, b1, b2, b2_, b3) from one seeded ``numpy.random.Generator``. Training is
one pass, batch size 1, learning rate e = 0.7, over the shuffled training set, with the
article's update rules *as written* (``update="as_written"``), for target t = one-hot(label)::

    E  = (t − y)(1 − y) y
    W3 += e·outer(z, E);  b3 −= e·E
    a  = (E · W3ᵀ)(1 − z) z                       "a(T)"
    repeat n times:
        z_  = −func(z · W2 − b2)·dt + z           "z(t − dt) backward"
        W2_ += e·outer(a, z_);  b2_ −= e·a
        a  += (1 − z) z a dt                      "a(t − dt)"
        z   = z_
    W1 += e·outer(x, a);  b1 −= e·a
    W2 = W2_;  b2 = b2_

Where these rules deviate from exact backpropagation of L = ½‖t − y‖² (the loss that E
implies; the article names none) through the same forward pass (exact rules:
:func:`exact_gradients`, checked against autograd in the tests; write s' = 0.05·s(1 − s)
for the slope of ``func`` at a pre-activation u with s = func(u), and u_k = z_k·W2 − b2):

1. Output delta: exact −∂L/∂u3 = 0.05·(t − y)(1 − y) y; the article drops the slope 0.05
   (here and in every other layer), so W3/b3 effectively get a 20× larger learning rate.
2. a(T) is computed with W3 *after* its update; exact backprop uses the W3 of the forward pass.
3. a(T) is multiplied by (1 − z) z with z = z(T), the ODE state, which is not a sigmoid output.
   Exact: a(T) = −∂L/∂z(T) = 0.05·E·W3ᵀ, with no such factor.
4. Backward reconstruction z_ = z − dt·func(z·W2 − b2) evaluates the dynamics at z(t), not at
   z(t − dt): it is not the inverse of the forward Euler step (error O(dt²) per step), and
   (see 9) it uses the partly updated W2/b2. Exact backprop uses the forward states z_k.
5. Adjoint step: exact a_k = a_{k+1} + dt·(a_{k+1} ⊙ s'(u_k))·W2ᵀ. The article's
   a += (1 − z) z a dt drops W2ᵀ (treats the Jacobian of the dynamics as diagonal), uses
   z(1 − z) of the *state* instead of s(1 − s) of the pre-activation, drops 0.05, and takes z at
   t_{k+1} instead of t_k.
6. W2 update: exact −∂L/∂W2 = Σ_k dt·outer(z_k, a_{k+1} ⊙ s'(u_k)). The article's
   outer(a, z_) is the transpose (row index from a, column index from z), and drops dt and s'.
7. b2 update: exact −∂L/∂b2 = −Σ_k dt·a_{k+1} ⊙ s'(u_k); the article drops dt and s'.
8. W1/b1 updates use a(0) without the input layer's slope s'(x·W1 − b1) (the (1 − z) z of
   item 3 looks like this factor, misplaced at the top of the ODE).
9. The "temporary copies": w2_ and b2_ are *independent* U[0, 1) draws, not copies of W2/b2,
   so after the first image W2, b2 are replaced by other random arrays (plus the first update).
   ``w2 = w2_`` then binds both names to one array, so from the second image on the updates
   ``w2_ += …``, ``b2_ −= …`` change W2/b2 immediately, inside the backward loop, and later
   backward steps (item 4) use the partly updated weights. The copies defer nothing after
   image 1. ``update="deferred"`` implements the evident intent instead (W2_/b2_ copied from
   W2/b2 at the start of every image, applied at its end) for comparison.
10. Learning-rate scale: E, a and the updates are per image (batch size 1), e = 0.7 is applied
    to all layers alike; with items 1, 5–8 the effective step sizes differ by layer.

Ambiguities resolved (the article's code leaves them open):

* Data: the training loop reads the 60,000 *training* images (its ``break`` at j ≥ 59999 is a
  no-op for 60,000 images), and accuracy is on the 10,000 *test* images. Inputs are float32
  ``ToTensor`` + ``Normalize((0.1307,), (0.3081,))`` values (:mod:`replication.experiments.article.data`).
* Order: ``DataLoader(shuffle=True)`` with torch's unseeded RNG; here a permutation from the
  seeded numpy generator :func:`epoch_order`. Initialisation: ``np.random.rand`` unseeded; here
  ``default_rng(seed)`` in the article's draw order.
* Evaluation: the article loops image by image; :func:`accuracy` evaluates a batch at once
  (matrix products instead of vector products; identical up to rounding).
* Overflow of ``exp`` for very negative pre-activations gives func = 0, as in the article
  (NumPy's warning is silenced).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

INPUTS, HIDDEN, OUTPUTS = 28 * 28, 100, 10
SLOPE = 0.05
# The article's draw order of its eight np.random.rand arrays.
DRAW_ORDER = ("w1", "w2", "w3", "w2_", "b1", "b2", "b2_", "b3")
SHAPES = {"w1": (INPUTS, HIDDEN), "w2": (HIDDEN, HIDDEN), "w3": (HIDDEN, OUTPUTS),
          "w2_": (HIDDEN, HIDDEN), "b1": (HIDDEN,), "b2": (HIDDEN,), "b2_": (HIDDEN,),
          "b3": (OUTPUTS,)}
UPDATES = ("as_written", "deferred")


def func(u: np.ndarray) -> np.ndarray:
    """The article's sigmoid with slope 0.05: ``1 / (1 + exp(-0.05 u))``."""
    return 1.0 / (1.0 + np.exp(-SLOPE * u))


def init_params(seed: int) -> dict[str, np.ndarray]:
    """The eight arrays, uniform in [0, 1), in the article's draw order, ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return {name: rng.random(SHAPES[name]) for name in DRAW_ORDER}


def epoch_order(seed: int, count: int, epoch: int = 1) -> np.ndarray:
    """The shuffled order of one pass (the article's ``shuffle=True``), from (seed, epoch) alone."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def is_aliased(params: dict[str, np.ndarray]) -> bool:
    """Whether W2/b2 and their "temporary" copies are one array (article's code after image 1)."""
    return params["w2"] is params["w2_"] and params["b2"] is params["b2_"]


def _hidden(params: dict, x: np.ndarray, steps: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """z(0) and z(T) for one image ``(784,)`` or a batch ``(B, 784)``."""
    w2, b2 = params["w2"], params["b2"]
    z0 = func(np.dot(x, params["w1"]) - params["b1"])
    z = z0
    for _ in range(steps):
        z = func(z.dot(w2) - b2) * dt + z
    return z0, z


def forward(params: dict, x: np.ndarray, *, steps: int, dt: float) -> np.ndarray:
    """Output y ``(10,)`` or ``(B, 10)`` of the article's network for normalised input rows *x*."""
    with np.errstate(over="ignore"):
        _, z = _hidden(params, x, steps, dt)
        return func(np.dot(z, params["w3"]) - params["b3"])


def train_step(params: dict, x: np.ndarray, label: int, *, lr: float, steps: int, dt: float,
               update: str = "as_written") -> np.ndarray:
    """One image of the article's training loop, updating *params* in place; returns y.

    The statements and their order are the article's (see the module docstring), including
    the in-place ``+=`` on arrays that, after the first image, W2/b2 and W2_/b2_ share.
    """
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
    w1, b1, w2, b2, w3, b3 = (params[k] for k in ("w1", "b1", "w2", "b2", "w3", "b3"))
    if update == "deferred":
        w2_, b2_ = w2.copy(), b2.copy()
    else:
        w2_, b2_ = params["w2_"], params["b2_"]
    n, e = steps, lr

    # Forward pass
    z = func(np.dot(x, w1) - b1)
    for _ in range(n):
        z = func(z.dot(w2) - b2) * dt + z
    y = func(np.dot(z, w3) - b3)

    t = np.zeros(OUTPUTS)
    t[int(label)] = 1

    Error2 = (t - y) * (1 - y) * y  # noqa: N806 (the article's name)
    w3 += e * np.outer(z, Error2)
    b3 -= e * Error2

    a = np.dot(Error2, w3.T) * (1 - z) * z  # a(T)
    for _ in range(n):
        z_ = -func(z.dot(w2) - b2) * dt + z  # z(t-dt) backward
        w2_ += e * np.outer(a, z_)
        b2_ -= e * a
        a += (1 - z) * z * a * dt  # a(t-dt)
        z = z_

    w1 += e * np.outer(x, a)  # a(0)
    b1 -= e * a

    # As written: w2_/b2_ are params["w2_"]/["b2_"], so W2/b2 now alias them for good.
    params["w2"], params["b2"] = w2_, b2_
    return y


def train_one_epoch(
    params: dict, images: np.ndarray, labels: np.ndarray, *, lr: float, steps: int, dt: float,
    update: str = "as_written", log_every: int = 1000,
    progress: Callable[[int, int, dict], None] | None = None,
) -> list[dict]:
    """One pass in the given order, batch size 1, updating *params* in place.

    *images* are normalised rows ``(N, 784)``; shuffle them beforehand (:func:`epoch_order`).
    Returns one history row per *log_every* images: accuracy and mean ½‖t − y‖² of the
    predictions made just before each image's update, and the elapsed seconds.
    """
    history: list[dict] = []
    total = len(labels)
    correct = 0
    loss_sum = 0.0
    window = 0
    start = time.perf_counter()
    with np.errstate(over="ignore"):
        for j in range(total):
            x = np.asarray(images[j], dtype=np.float64)
            label = int(labels[j])
            y = train_step(params, x, label, lr=lr, steps=steps, dt=dt, update=update)
            correct += int(np.argmax(y) == label)
            target = np.zeros(OUTPUTS)
            target[label] = 1
            loss_sum += 0.5 * float(np.sum((target - y) ** 2))
            window += 1
            if window == log_every or j == total - 1:
                row = {"images": j + 1, "window_accuracy": correct / window,
                       "window_loss": loss_sum / window,
                       "seconds": time.perf_counter() - start}
                history.append(row)
                if progress is not None:
                    progress(j + 1, total, row)
                correct, loss_sum, window = 0, 0.0, 0
    return history


def predict(params: dict, images: np.ndarray, *, steps: int, dt: float,
            batch_size: int = 10_000) -> np.ndarray:
    """Predicted classes, evaluated *batch_size* images at a time."""
    out = [np.argmax(forward(params, np.asarray(images[i:i + batch_size], dtype=np.float64),
                             steps=steps, dt=dt), axis=1)
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def accuracy(params: dict, images: np.ndarray, labels: np.ndarray, *, steps: int, dt: float,
             batch_size: int = 10_000) -> float:
    """Fraction of *images* classified correctly (vectorised over batches)."""
    return float(np.mean(predict(params, images, steps=steps, dt=dt, batch_size=batch_size)
                         == np.asarray(labels)))


def evaluate_step_settings(
    params: dict, images: np.ndarray, labels: np.ndarray, settings, *, batch_size: int = 10_000,
) -> list[dict]:
    """A2: test accuracy of the trained (not retrained) network at other Euler settings.

    One row per ``(n, dt)``: n, dt, T = n·dt, accuracy, seconds (wall time of the evaluation)
    and mean |z(T) − z(0)| (how far the ODE moves the hidden state; at most T per unit,
    because the dynamics lie in (0, 1)).
    """
    rows = []
    labels = np.asarray(labels)
    for n, dt in settings:
        n, dt = int(n), float(dt)
        start = time.perf_counter()
        predictions, change, count = [], 0.0, 0
        with np.errstate(over="ignore"):
            for i in range(0, len(images), batch_size):
                x = np.asarray(images[i:i + batch_size], dtype=np.float64)
                z0, z = _hidden(params, x, n, dt)
                y = func(np.dot(z, params["w3"]) - params["b3"])
                predictions.append(np.argmax(y, axis=1))
                change += float(np.abs(z - z0).sum())
                count += z.size
        seconds = time.perf_counter() - start
        rows.append({"n": n, "dt": dt, "T": n * dt,
                     "accuracy": float(np.mean(np.concatenate(predictions) == labels)),
                     "seconds": seconds, "mean_abs_ode_change": change / max(count, 1)})
    return rows


def exact_gradients(params: dict, x: np.ndarray, label: int, *, steps: int,
                    dt: float) -> dict[str, np.ndarray]:
    """∂L/∂θ of L = ½‖t − y‖² by exact backpropagation through the same forward pass.

    The reference the module docstring compares the article's rules with (one image).
    """
    w1, b1, w2, b2, w3, b3 = (params[k] for k in ("w1", "b1", "w2", "b2", "w3", "b3"))
    x = np.asarray(x, dtype=np.float64)
    s1 = func(np.dot(x, w1) - b1)
    states, slopes = [s1], []
    z = s1
    for _ in range(steps):
        s = func(z.dot(w2) - b2)
        slopes.append(SLOPE * s * (1 - s))
        z = s * dt + z
        states.append(z)
    y = func(np.dot(z, w3) - b3)
    t = np.zeros(OUTPUTS)
    t[int(label)] = 1
    delta3 = (y - t) * SLOPE * y * (1 - y)
    grads = {"w3": np.outer(z, delta3), "b3": -delta3,
             "w2": np.zeros_like(w2), "b2": np.zeros_like(b2)}
    g = delta3 @ w3.T
    for k in reversed(range(steps)):
        delta = g * dt * slopes[k]
        grads["w2"] += np.outer(states[k], delta)
        grads["b2"] -= delta
        g = g + delta @ w2.T
    delta1 = g * SLOPE * s1 * (1 - s1)
    grads["w1"] = np.outer(x, delta1)
    grads["b1"] = -delta1
    return grads


UPDATED = ("w1", "b1", "w2", "b2", "w3", "b3")


def update_cosines(params: dict, images: np.ndarray, labels: np.ndarray, *, lr: float,
                   steps: int, dt: float, update: str = "as_written") -> dict[str, float]:
    """How well the article's update follows the exact gradient: per parameter array, the
    median over *images* of cos(Δθ, −∂L/∂θ), Δθ the change one :func:`train_step` makes
    (on a copy of *params*, aliasing kept; for W2/b2 the change of the arrays it writes to)
    and ∂L/∂θ from :func:`exact_gradients` at *params*. 1 means the same direction; the
    article says its backward pass is a discrete approximation of the adjoint."""
    cosines: dict[str, list[float]] = {k: [] for k in UPDATED}
    with np.errstate(over="ignore"):
        for x, label in zip(images, labels):
            x = np.asarray(x, dtype=np.float64)
            trial = {k: params[k].copy() for k in DRAW_ORDER}
            if is_aliased(params):
                trial["w2_"], trial["b2_"] = trial["w2"], trial["b2"]
            written = {"w2": "w2" if update == "deferred" else "w2_",
                       "b2": "b2" if update == "deferred" else "b2_"}
            before = {k: trial[written.get(k, k)].copy() for k in UPDATED}
            train_step(trial, x, int(label), lr=lr, steps=steps, dt=dt, update=update)
            gradients = exact_gradients(params, x, int(label), steps=steps, dt=dt)
            for k in UPDATED:
                delta = (trial[k] - before[k]).ravel()
                descent = -gradients[k].ravel()
                norm = np.linalg.norm(delta) * np.linalg.norm(descent)
                cosines[k].append(float(delta @ descent / norm) if norm > 0 else 0.0)
    return {k: float(np.median(v)) for k, v in cosines.items()}


def save_params(path: Path, params: dict) -> None:
    """Write the arrays and whether W2/b2 alias their copies (restored by :func:`load_params`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.partial.npz")
    np.savez(staged, aliased=np.array(is_aliased(params)), **{k: params[k] for k in DRAW_ORDER})
    staged.replace(path)


def load_params(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as saved:
        params = {k: saved[k].copy() for k in DRAW_ORDER}
        if bool(saved["aliased"]):
            params["w2_"], params["b2_"] = params["w2"], params["b2"]
    return params
