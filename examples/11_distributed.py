"""Data-parallel training over MPI: the sine model of example 01 trained by every rank at once.

Run it with two processes (seconds)::

    pip install "rnnkit[mpi]"
    mpiexec -n 2 python examples/11_distributed.py

Every rank runs this same script on the same data; ``batch_size`` is the global batch, each
rank computes the gradient of its half of every batch and one Allreduce per update combines
them, so the weights after training are those of one process training on the whole batches
(to rounding). Only rank 0 prints. ``--quick`` trains fewer epochs (what the tests run).
"""

import argparse

from rnnkit.data import make_windows, sine_wave, train_test_split_by_time
from rnnkit.distributed import DistributedTrainer
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.optimizers import Adam


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 epochs instead of 60")
    args = parser.parse_args()

    x, y = make_windows(sine_wave(400, 0.125), 3)  # (N, 3, 1) windows, (N, 1) next values
    x_train, x_test, y_train, y_test = train_test_split_by_time(x, y, 0.2)
    # The same seeds on every rank give every rank the same initial weights (checked).
    model = Sequential([SimpleRNN(10, input_shape=(3, 1), seed=0), Dense(1, seed=1)])
    trainer = DistributedTrainer(model, "mse", Adam(0.01))
    before = trainer.evaluate(x_test, y_test)["loss"]
    trainer.fit(
        x_train,
        y_train,
        epochs=20 if args.quick else 60,
        batch_size=16,
        validation_data=(x_test, y_test),
        seed=0,
        verbose=2,
    )
    after = trainer.evaluate(x_test, y_test)["loss"]
    if trainer.rank == 0:
        print(f"{trainer.size} ranks: test mse {before:.4g} before training, {after:.4g} after")


if __name__ == "__main__":
    main()
