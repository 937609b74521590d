"""bgplb: a BGP speaker that advertises the service IPs a bare-metal node serves."""

__version__ = "0.1.0"
