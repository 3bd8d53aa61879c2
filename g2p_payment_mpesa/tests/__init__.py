from . import (
    test_access_and_neutralize,
    test_callbacks,
    test_install,
    test_payment_flow,
    test_preflight,
    test_prepare,
    test_rate_budget,
    test_safety,
)
