from . import (
    test_access_and_neutralize,
    test_approval_preflight,
    test_callbacks,
    test_cycle_progress,
    test_install,
    test_manager_form,
    test_payment_flow,
    test_preflight,
    test_prepare,
    test_rate_budget,
    test_safety,
)
