"""Model operations: the registry, the one generation path, evaluation, quantization, the
promotion gate and background jobs. Each workflow lives in its own module; this package
re-exports the names other apps call, so they import from ``modelops.services``.
"""

from modelops.services.generation import (
    active_model_client,
    generation_stream,
    model_error_message,
    model_health,
    model_preload,
    recent_generation_seconds,
)
from modelops.services.promotion import GateDecision, model_version_promote, promotion_gate
from modelops.services.registry import (
    BASE_MODEL_NAME,
    model_base_import,
    model_version_check_loads,
    serving_commands,
    token_counter,
)
from modelops.services.runs import Progress, RunCancelled

__all__ = [
    "BASE_MODEL_NAME",
    "GateDecision",
    "Progress",
    "RunCancelled",
    "active_model_client",
    "generation_stream",
    "model_base_import",
    "model_error_message",
    "model_health",
    "model_preload",
    "model_version_check_loads",
    "model_version_promote",
    "promotion_gate",
    "recent_generation_seconds",
    "serving_commands",
    "token_counter",
]
