"""FFJORD Figure 5: the number of function evaluations of a CNF-VAE as training proceeds, for
latent sizes D ∈ {16, 32, 48, 64} on MNIST.

FFJORD §5.2 argues that the cost of its flow does not grow with the data dimension: the NFE of
the adaptive solver is set by how hard the learned dynamics are to integrate, not by D, and
Hutchinson's estimator makes each evaluation O(D). The paper shows NFE-F rising during
training and settling at about the same value for every D (spec §3.6).

One job trains one VAE of the VAE table's architecture (Berg et al.'s gated-conv encoder and
decoder, :class:`~replication.vae.model.VAE`) with the FFJORD posterior flow, latent size D,
and records, for every training batch, the solver's forward evaluations (NFE-F, the
Hutchinson-trace solve) and the adjoint's backward evaluations (NFE-B). Nothing is evaluated on
held-out data: the figure is about the cost of training.

The training step, β warm-up and data order are the VAE experiment's
(:mod:`replication.train.vae`), so the NFE seen here is the NFE of the table's FFJORD runs.
Differences from the authors' figure (their ``diagnostics/plot_nfe_vs_dim_vae.py``): they
used the unamortized ``cnf`` flow (one 256-256 block); we use the table's amortized low-rank
flow, the model whose cost the table reports. Their NFE logs for amortized CNF-VAEs read 0
until ffjord PR #5 (spec §5 item 10); ours come from counting calls of the dynamics.

Every epoch is checkpointed (model, optimizer, history and the random state), so an
interrupted job resumes and ends with the same numbers.
"""
from __future__ import annotations

import statistics

import torch

from replication.data.catalog import load_image_dataset
from replication.data.images import training_batches
from replication.measure.provenance import config_hash
from replication.models import count_parameters
from replication.results import write_csv
from replication.train.progress import report
from replication.train.seeding import epoch_generator
from replication.train.vae import train_epoch, warmup_beta
from replication.vae.model import VAE

OUTPUT_FILES = ("history.csv", "batches.csv")  # besides provenance.json and metrics.json
OPTIMIZERS = {"adamax": torch.optim.Adamax, "adam": torch.optim.Adam}
REQUIRED = ("scale", "seed", "device", "dataset", "latent_dim", "data", "model", "training")


def check_spec(spec: dict) -> None:
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise ValueError(f"nfe-vs-dim spec lacks {', '.join(missing)}; it needs {', '.join(REQUIRED)} "
                         "(see the scale's `nfe_vs_dim` section of config/config.yaml)")
    if spec["training"]["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {spec['training']['optimizer']!r}; "
                         f"known: {', '.join(OPTIMIZERS)}")


def run(spec: dict, job) -> dict:
    """Train one FFJORD VAE of latent size ``spec['latent_dim']``; write ``OUTPUT_FILES``."""
    check_spec(spec)
    device = torch.device(spec["device"])
    training = spec["training"]

    data = load_image_dataset(spec["dataset"], job.data_dir)
    data = data.subset(train=spec["data"]["train_subset"])
    model = VAE(image_shape=data.image_shape, likelihood=data.likelihood,
                latent_dim=spec["latent_dim"], width=spec["model"]["width"], flow="ffjord",
                flow_options=spec["model"]["flow_options"]).to(device)
    optimizer = OPTIMIZERS[training["optimizer"]](model.parameters(), lr=training["lr"],
                                                  eps=training["eps"])
    batch_count = len(data.train) // training["batch_size"]
    if batch_count == 0:
        raise ValueError(f"{len(data.train)} training images do not fill one batch of "
                         f"{training['batch_size']}; lower batch_size or raise train_subset")

    checkpoint = job.checkpoint()
    state = checkpoint.load()
    if state is None:
        state = {"epoch": 0, "history": [], "batches": []}
    else:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        report(f"resuming {job.name} after epoch {state['epoch']}")

    name = f"D={spec['latent_dim']}"
    while state["epoch"] < training["epochs"]:
        epoch = state["epoch"] + 1
        beta = warmup_beta(epoch, warmup_epochs=training["warmup_epochs"])
        batches = training_batches(data, batch_size=training["batch_size"],
                                   generator=epoch_generator(spec["seed"], epoch))
        records = train_epoch(model, optimizer, batches, batch_count=batch_count, beta=beta,
                              device=device, description=f"{name} epoch {epoch}")
        state["batches"] += [
            {"latent_dim": spec["latent_dim"], "epoch": epoch, "batch": index,
             "nfe_forward": r.nfe_forward, "nfe_backward": r.nfe_backward, "loss": r.loss,
             "seconds": r.seconds}
            for index, r in enumerate(records, start=1)]
        row = {
            "latent_dim": spec["latent_dim"],
            "epoch": epoch,
            "beta": beta,
            "train_loss": statistics.fmean(r.loss for r in records),
            "nfe_forward": statistics.fmean(r.nfe_forward for r in records),   # per batch
            "nfe_backward": statistics.fmean(r.nfe_backward for r in records),
            "nfe_forward_per_epoch": sum(r.nfe_forward for r in records),
            "nfe_backward_per_epoch": sum(r.nfe_backward for r in records),
            "epoch_seconds": sum(r.seconds for r in records),
        }
        state["history"].append(row)
        state.update(epoch=epoch, model=model.state_dict(), optimizer=optimizer.state_dict(),
                     rng=torch.get_rng_state())
        checkpoint.save(state)
        report(f"{name} epoch {epoch}/{training['epochs']} loss {row['train_loss']:.2f} "
               f"NFE-F {row['nfe_forward']:.1f} NFE-B {row['nfe_backward']:.1f} "
               f"{row['epoch_seconds']:.0f}s")

    history = state["history"]
    metrics = {
        "experiment": "nfe_vs_dim",
        "scale": spec["scale"],
        "dataset": spec["dataset"],
        "latent_dim": spec["latent_dim"],
        "seed": spec["seed"],
        "device": str(device),
        "epochs": len(history),
        "train_size": len(data.train),
        "batch_size": training["batch_size"],
        "parameters": count_parameters(model),
        "flow_parameters": count_parameters(model.flow),
        "nfe_forward_first_epoch": history[0]["nfe_forward"],
        "nfe_forward_last_epoch": history[-1]["nfe_forward"],
        "nfe_backward_last_epoch": history[-1]["nfe_backward"],
        "train_loss_last_epoch": history[-1]["train_loss"],
        "train_seconds": sum(h["epoch_seconds"] for h in history),
        "config_hash": config_hash(spec),
    }
    write_csv(job.out_dir / "history.csv", history)
    write_csv(job.out_dir / "batches.csv", state["batches"])
    return metrics


__all__ = ["OUTPUT_FILES", "check_spec", "run"]
