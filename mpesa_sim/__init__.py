"""A local M-Pesa (Daraja B2C, Vodacom's M-Pesa OpenAPI) simulator with a real ledger, USSD phone and
simple-mpesa routes."""

__version__ = "0.1.0"
