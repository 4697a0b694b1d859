"""The collaboration server (Starlette + uvicorn): ``cowrite serve``."""

from .app import Server
from .auth import AuthError, Grant, issue_token, load_secret, verify_token
from .logs import RedactTokens, redact_tokens_in_logs
from .rooms import Limits

__all__ = [
    "AuthError",
    "Grant",
    "Limits",
    "RedactTokens",
    "Server",
    "issue_token",
    "load_secret",
    "redact_tokens_in_logs",
    "verify_token",
]
