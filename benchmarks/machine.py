"""What every benchmark prints about the machine it ran on."""

from __future__ import annotations

import os
import platform
import subprocess


def cpu_name() -> str:
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor()
    for line in output.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
