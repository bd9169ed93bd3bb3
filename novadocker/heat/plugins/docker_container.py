from novadocker.heat.container import resource_mapping  # noqa: F401
