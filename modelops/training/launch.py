"""The multi-GPU launch line: ``accelerate launch`` with Soro's FSDP or DeepSpeed ZeRO-3
config, running the Django-free core (``python -m modelops.training``) on every process."""

from __future__ import annotations

import shlex
from typing import Any

#: Under ``configs/accelerate/`` at the repository root.
CONFIG_FILES = {"fsdp": "fsdp.yaml", "deepspeed": "deepspeed_zero3.yaml"}


def launch_command(
    kind: str, arguments: dict[str, Any], *, gpus: int, nodes: int, engine: str = "fsdp"
) -> str:
    """``accelerate launch … -m modelops.training KIND --flag value …`` (FSDP or ZeRO-3;
    LoRA instruction tuning runs data-parallel instead). On several nodes,
    run the same line on each with ``NODE_RANK`` set (0 on the main node) and
    ``MAIN_HOST`` the main node's address."""
    if gpus < 1 or nodes < 1:
        raise ValueError("--gpus and --nodes must be at least 1")
    if kind == "sft" and not arguments.get("full"):
        # LoRA adapters are merged on one process after training: plain data parallelism
        # (every GPU holds the whole model; the adapters are small), not FSDP sharding.
        engine_flags = ["--multi_gpu", "--mixed_precision", "bf16"]
    else:
        engine_flags = ["--config_file", f"configs/accelerate/{CONFIG_FILES[engine]}"]
    parts = [
        "accelerate",
        "launch",
        *engine_flags,
        "--num_machines",
        str(nodes),
        "--num_processes",
        str(gpus * nodes),
    ]
    if nodes > 1:
        parts += [
            "--machine_rank",
            "$NODE_RANK",
            "--main_process_ip",
            "$MAIN_HOST",
            "--main_process_port",
            "29500",
        ]
    parts += ["-m", "modelops.training", kind]
    for flag, value in arguments.items():
        if value is None or value is False:
            continue
        parts.append(f"--{flag}")
        if value is not True:
            parts.append(str(value))
    return " ".join(part if part.startswith("$") else shlex.quote(part) for part in parts)
