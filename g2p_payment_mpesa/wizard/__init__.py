from . import mpesa_callback_url, mpesa_preflight, mpesa_reversal
