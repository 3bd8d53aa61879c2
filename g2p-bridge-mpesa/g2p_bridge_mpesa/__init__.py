"""M-Pesa bank connector for OpenG2P's G2P Bridge.

``MpesaBankConnector`` / ``MpesaBankConnectorFactory`` (``g2p_bridge_mpesa.connector``) need the
bridge's libraries; everything else (settings, ledger, engine, MT940, listener) needs only
mpesa_wire, pydantic-settings and psycopg2, and is imported without them.
"""

__version__ = "0.1.0"

_BRIDGE_NAMES = ("MpesaBankConnector", "MpesaBankConnectorFactory")


def __getattr__(name):
    if name in _BRIDGE_NAMES:
        from . import connector

        return getattr(connector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MpesaBankConnector", "MpesaBankConnectorFactory", "__version__"]
