"""The server side of the Massive session, sans I/O: auth and subscriptions for one connection.

A :class:`ServerSession` takes each client text frame and returns an :class:`Outcome`: the status
messages to send back (one frame), whether the key was accepted or the connection must be
closed, and whether the subscription set changed. The server (``server.py``) does the sending,
the timers, ``max_connections`` and the data. Messages are exactly those of polygon.md §1.2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from tickwire.sim.channels import REALTIME_ONLY, Route, split_channel, split_params
from tickwire.sim.faults import Entitlements
from tickwire.sim.observe import key_id

__all__ = [
    "AUTH_TIMEOUT",
    "MAX_CONNECTIONS",
    "PLAN_DENIED_MESSAGE",
    "AuthPolicy",
    "Outcome",
    "ServerSession",
]

CONNECTED = ("connected", "Connected Successfully")
AUTH_SUCCESS = ("auth_success", "authenticated")
AUTH_FAILED = ("auth_failed", "authentication failed")
PLAN_DENIED_MESSAGE = (
    "Your plan doesn't include websocket access. Visit https://massive.com/pricing to upgrade."
)
AUTH_TIMEOUT = ("auth_timeout", "No authentication request received.")
AUTH_REQUIRED = ("auth_required", 'authentication required: send {"action":"auth","params":KEY} first')
INVALID_JSON = ("error", "Invalid JSON")
MAX_CONNECTIONS = (
    "max_connections",
    "Maximum number of websocket connections exceeded. You have reached the connection limit for your "
    "account. Please contact support at https://polygon.io/contact to increase your limit.",
)
LEGACY_AUTH_SUCCESS = ("success", "authenticated")
LEGACY_AUTH_FAILED = ("error", "authentication failed")
AUTH_CLOSE_CODE = 1008
"""Close code after ``auth_failed`` / ``auth_timeout``."""


class _Action(msgspec.Struct):
    action: str
    params: str = ""


_decode_action = msgspec.json.Decoder(_Action).decode


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """Which keys authenticate. Keys are kept only as :func:`key_id` fingerprints.

    ``valid`` ``None`` accepts any non-empty key; ``plan_denied`` keys get the entitlement
    ``auth_failed`` message; ``legacy`` answers in the 2019-20 (Alpaca) dialect.
    """

    valid: frozenset[str] | None = None
    plan_denied: frozenset[str] = frozenset()
    legacy: bool = False

    @classmethod
    def from_keys(
        cls, valid_keys: Iterable[str] | None, plan_denied_keys: Iterable[str] = (), legacy: bool = False
    ) -> AuthPolicy:
        valid = None if valid_keys is None else frozenset(key_id(k) for k in valid_keys)
        return cls(valid, frozenset(key_id(k) for k in plan_denied_keys), legacy)

    def check(self, key: str) -> tuple[bool, tuple[str, str]]:
        """Whether ``key`` is accepted, and the status to answer with."""
        kid = key_id(key)
        if key and kid in self.plan_denied:
            return False, (LEGACY_AUTH_FAILED[0] if self.legacy else "auth_failed", PLAN_DENIED_MESSAGE)
        if not key or (self.valid is not None and kid not in self.valid):
            return False, LEGACY_AUTH_FAILED if self.legacy else AUTH_FAILED
        return True, LEGACY_AUTH_SUCCESS if self.legacy else AUTH_SUCCESS


@dataclass(slots=True)
class Outcome:
    """What one client frame leads to."""

    action: str
    params: tuple[str, ...] = ()
    replies: list[tuple[str, str]] = field(default_factory=list)
    auth: Literal["ok", "failed"] | None = None
    close_code: int | None = None
    changed: bool = False


class ServerSession:
    """Auth state and the confirmed subscription set of one connection."""

    def __init__(
        self,
        route: Route,
        policy: AuthPolicy,
        *,
        option_quote_limit: int = 1000,
        entitlements: Entitlements | None = None,
    ) -> None:
        self.route = route
        self.policy = policy
        self.entitlements = entitlements or Entitlements()
        self.option_quote_limit = option_quote_limit
        self.authenticated = False
        self.key_id: str | None = None
        self.subscriptions: dict[str, None] = {}  # an ordered set

    def handle(self, payload: bytes | str) -> Outcome:
        """Process one client frame."""
        try:
            msg = _decode_action(payload)
        except (ValueError, RecursionError):  # malformed, invalid UTF-8 or nested too deep
            return Outcome("invalid", replies=[INVALID_JSON])
        if msg.action == "auth":
            return self._auth(msg.params)
        if msg.action in ("subscribe", "unsubscribe"):
            channels = tuple(split_params(msg.params))
            if not self.authenticated:
                return Outcome(msg.action, channels, [AUTH_REQUIRED])
            if not channels:
                return Outcome(msg.action, channels, [("error", f"no channels given to {msg.action}")])
            if msg.action == "subscribe":
                return self._subscribe(channels)
            return self._unsubscribe(channels)
        return Outcome(msg.action, replies=[("error", f"unknown action: {msg.action[:64]}")])

    def _auth(self, key: str) -> Outcome:
        ok, reply = self.policy.check(key)
        kid = key_id(key)
        if not ok:
            return Outcome("auth", (kid,), [reply], auth="failed", close_code=AUTH_CLOSE_CODE)
        self.authenticated = True
        self.key_id = kid
        return Outcome("auth", (kid,), [reply], auth="ok")

    def _check(self, channel: str) -> str | None:
        """``None`` if the channel can be served on this route, else the error message."""
        parts = split_channel(channel)
        if parts is None:
            return f"invalid channel (expected <CHANNEL>.<TICKER>): {channel}"
        prefix = parts[0]
        route = self.route
        if prefix not in route.channels:
            return f"unknown channel {prefix} on the {route.market} cluster: {channel}"
        if route.delayed and prefix in REALTIME_ONLY[route.family]:
            return f"{prefix} is real-time only, not available on the delayed feed: {channel}"
        return None

    def _subscribe(self, channels: tuple[str, ...]) -> Outcome:
        out = Outcome("subscribe", channels)
        for channel in channels:
            error = self._check(channel) or self.entitlements.check(channel)
            if error is None and self._over_option_quote_limit(channel):
                limit = self.option_quote_limit
                error = f"option quotes are limited to {limit} contracts per connection: {channel}"
            if error is not None:
                out.replies.append(("error", error))
                continue
            if channel not in self.subscriptions:
                self.subscriptions[channel] = None
                out.changed = True
            out.replies.append(("success", f"subscribed to: {channel}"))
        return out

    def _unsubscribe(self, channels: tuple[str, ...]) -> Outcome:
        out = Outcome("unsubscribe", channels)
        for channel in channels:
            error = self._check(channel)
            if error is not None:
                out.replies.append(("error", error))
                continue
            if channel in self.subscriptions:
                del self.subscriptions[channel]
                out.changed = True
            out.replies.append(("success", f"unsubscribed to: {channel}"))
        return out

    def _over_option_quote_limit(self, channel: str) -> bool:
        if self.route.family != "options" or not channel.startswith("Q.") or channel in self.subscriptions:
            return False
        if channel == "Q.*":
            return False
        count = sum(1 for c in self.subscriptions if c.startswith("Q.") and c != "Q.*")
        return count >= self.option_quote_limit
