"""bgplb-handback: hand mid-stream TCP packets of connections a node does not have to the node that has them, while
a node drains or returns (Beamer-style daisy chaining; playbooks/drain.yml and undrain.yml).

    config (handback.yaml) + kernel state (nft -j, ip -j, bridge -j, /proc)  --plan-->  actions  --apply-->  kernel

``config`` reads and checks the YAML file the speaker role renders; ``nft`` builds the nftables tables (one per
address family in use) and reads ``nft -j``; ``plan`` is pure (state in, actions out, tested on recorded JSON);
``kernel`` reads the state and runs the actions; ``cli`` is the ``bgplb-handback`` command.
"""
