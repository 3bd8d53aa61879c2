"""G2P Bridge 1.1.0's Celery workers, with the M-Pesa connector registered.

Run instead of the stock workers' ``main.py``::

    celery -A g2p_bridge_mpesa.worker.celery_app worker -Q g2p_bridge_celery_worker_tasks

1.1.0 chooses a bank connector through ``BankConnectorFactory.get_component()``, and
openg2p_fastapi_common's component registry returns the FIRST registered instance of the class: the
M-Pesa factory (a subclass) is created here before the stock initializer creates the stock one.
Created after it, it would be ignored.
"""

from openg2p_g2p_bridge_celery_workers.app import Initializer as _WorkerInitializer
from openg2p_g2p_bridge_celery_workers.app import celery_app

from .connector import MpesaBankConnectorFactory


class MpesaWorkerInitializer(_WorkerInitializer):
    def initialize(self, **kwargs):
        MpesaBankConnectorFactory()  # first: the registry's get_component() returns it
        super().initialize(**kwargs)


initializer = MpesaWorkerInitializer()
app = initializer.return_app()

__all__ = ["MpesaWorkerInitializer", "app", "celery_app", "initializer"]
