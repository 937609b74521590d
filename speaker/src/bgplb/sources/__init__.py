"""Service sources beside the config directory: each turns an outside system into bgplb `Service` objects."""
