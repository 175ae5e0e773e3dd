"""Fail in one line, before any start-up work, when a port to listen on is taken."""

from __future__ import annotations

import socket


class PortInUseError(Exception):
    pass


def check_port_free(host: str, port: int, flag: str = "--port", also: str = "") -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(
                f"cannot listen on {host}:{port} ({exc.strerror}); another program (or another"
                f" Parley) uses it: stop it or pass {flag} {port + 1}{also}"
            ) from None
