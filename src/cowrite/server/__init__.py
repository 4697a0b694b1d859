"""The collaboration server (Starlette + uvicorn): ``cowrite serve``."""

from .app import Server
from .auth import AuthError, Grant, issue_token, load_secret, verify_token
from .rooms import Limits

__all__ = ["AuthError", "Grant", "Limits", "Server", "issue_token", "load_secret", "verify_token"]
