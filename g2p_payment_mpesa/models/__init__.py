from . import (
    g2p_cycle,
    g2p_payment,
    g2p_payment_batch,
    mpesa_float_report,
    mpesa_rate_budget,
    mpesa_transaction,
    payment_manager,
    payment_manager_demo,
    payment_manager_dispatch,
    payment_manager_prepare,
    payment_manager_reconcile,
    payment_manager_results,
)
