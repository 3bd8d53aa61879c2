"""Placeholder until the USSD module lands."""

from fastapi import APIRouter

router = APIRouter()
