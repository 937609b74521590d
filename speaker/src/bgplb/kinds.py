"""The object kinds, in dependency order (a peer before the advertisements naming it). Here and not in bgplb.model so
that bgplbctl can list them without importing the model (start-up time)."""

KINDS = ("peer", "pool", "community", "advertisement", "service")
