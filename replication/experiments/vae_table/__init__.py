"""FFJORD's VAE table: test −ELBO of VAEs with no flow, planar, IAF, Sylvester and FFJORD
posteriors on four datasets.

One job per (dataset, flow, seed) (:mod:`.run`: Berg et al.'s protocol, which FFJORD mirrors);
:mod:`.table` collects them beside the paper's numbers (read from the claims registry).
"""
from replication.data.catalog import IMAGE_DATASETS
from replication.experiments.base import Option, declare
from replication.flows import FLOWS


def jobs(config: dict) -> list[dict]:
    """One resolved specification per (dataset, flow, seed) of the selected scale's VAE table.

    Datasets named in ``exclude_datasets`` are left out (the table marks them); a dataset's
    own ``training``/``evaluation`` entries override single keys of the scale's, and a flow's
    entries in ``flow_overrides`` override single keys of both (e.g. a cheaper importance-sampled
    NLL for the FFJORD row at the cpu scale, whose exact trace costs D vjps per evaluation).
    """
    scale = config["scale"]
    section = config["scales"][scale]["vae"]
    excluded = set(config.get("exclude_datasets") or [])
    runs = []
    for dataset, options in section["datasets"].items():
        if dataset in excluded:
            continue
        split_seeds = options.get("split_seeds")
        for flow, flow_options in section["flows"].items():
            flow_options = {**flow_options, **options.get("flow_options", {}).get(flow, {})}
            overrides = section.get("flow_overrides", {}).get(flow, {})
            for index, seed in enumerate(section["seeds"]):
                runs.append({
                    "experiment": "vae",
                    "scale": scale,
                    "dataset": dataset,
                    "flow": flow,
                    "seed": seed,
                    "device": section["device"],
                    "data": {**options["data"],
                             "split_seed": split_seeds[index % len(split_seeds)]
                             if split_seeds else None},
                    "model": {**section["model"], "flow_options": dict(flow_options)},
                    "training": {**section["training"], **options.get("training", {}),
                                 **overrides.get("training", {})},
                    "evaluation": {**section["evaluation"], **options.get("evaluation", {}),
                                   **overrides.get("evaluation", {})},
                })
    return runs


def _collect_spec(config: dict) -> dict:
    section = config["scales"][config["scale"]]["vae"]
    # sorted: the table orders rows and columns as the paper does, whatever the config's order
    return {"datasets": sorted(section["datasets"]), "flows": sorted(section["flows"]),
            "excluded": sorted(config.get("exclude_datasets") or [])}


EXPERIMENT = declare(
    __name__,
    name="vae_table",
    title="FFJORD VAE table (test −ELBO)",
    section="vae",
    jobs=jobs,
    job_dir=lambda spec: f"vae/{spec['dataset']}/{spec['flow']}/seed{spec['seed']}",
    # the job builds one flow and reads one dataset: only their modules enter its fingerprint
    code=lambda spec: (FLOWS.module_of(spec["flow"]), IMAGE_DATASETS.module_of(spec["dataset"])),
    options=(Option(key="dataset", help=f"one of: {', '.join(IMAGE_DATASETS)}"),
             Option(key="flow", help=f"one of: {', '.join(FLOWS)}"),
             Option(key="seed", help="a seed of the scale's list", type=int)),
    collect=f"{__name__}.table",
    collect_spec=_collect_spec,
    tables=("vae_table.csv", "vae_table.md", "vae_table.tex", "vae/runs.csv"),
)
