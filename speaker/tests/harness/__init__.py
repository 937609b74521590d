"""Real BGP peers for tests: network namespaces joined by veth, and FRR, BIRD 2 or GoBGP started inside them.

    with NetnsPair() as net:                       # net.left / net.right, net.left_v4, net.right_v6, ...
        with FrrRouter(net.right, asn=64500, router_id="10.255.0.1",
                       neighbors=[Neighbor(net.left_v4, asn=64512)]) as frr:
            net.left.popen([...the speaker...])
            wait_for(lambda: frr.established(net.left_v4), what="session")
            assert frr.paths("198.51.100.1/32")[0].communities == ("65000:100",)

Everything a test starts is killed and every namespace deleted on exit, also on failure; namespaces left over by
a killed run are swept at the next start. A missing daemon or a namespace that cannot be made raises: no skips.
"""

from harness.bird import Bird
from harness.frr import FrrRouter, Neighbor
from harness.gobgp import GoBgp
from harness.netns import Namespace, NetnsPair
from harness.path import Path, wait_for, wait_until
from harness.speaker import Speaker

__all__ = [
    "Bird",
    "FrrRouter",
    "GoBgp",
    "Namespace",
    "Neighbor",
    "NetnsPair",
    "Path",
    "Speaker",
    "wait_for",
    "wait_until",
]
