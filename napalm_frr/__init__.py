"""NAPALM driver for Linux + FRRouting + nftables: ``napalm.get_network_driver("frr")``.

NAPALM imports this module and returns the first NetworkDriver subclass it finds here, so only
:class:`FrrDriver` is exported.
"""

from napalm_frr.driver import FrrDriver

__all__ = ["FrrDriver"]
