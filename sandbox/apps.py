from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The gateway simulators: installed (settings) and routed (urls) only with GATEWAY_SIMULATOR.

    No models: the simulators keep their state in the cache (`sandbox/state.py`).
    """

    name = "sandbox"
    verbose_name = "Gateway simulators"
