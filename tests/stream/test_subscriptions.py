"""SubscriptionSet: desired / pending / confirmed bookkeeping, and the diff that converges a server on it."""

from __future__ import annotations

from tickwire.stream.subscriptions import SubscriptionSet


def _streaming(*channels: str) -> SubscriptionSet:
    """A set whose server has confirmed ``channels``."""
    subs = SubscriptionSet()
    subs.add(channels)
    to_sub, _ = subs.diff()
    for c in to_sub:
        subs.confirm_subscribed(c)
    return subs


def test_add_keeps_first_insertion_order_and_reports_only_new() -> None:
    subs = SubscriptionSet()
    assert subs.add(["T.MSFT", "Q.AAPL", "T.MSFT"]) == ["T.MSFT", "Q.AAPL"]
    assert subs.add(["Q.AAPL", "AM.*", "T.A"]) == ["AM.*", "T.A"]
    assert list(subs.desired) == ["T.MSFT", "Q.AAPL", "AM.*", "T.A"]
    assert subs.diff() == (["T.MSFT", "Q.AAPL", "AM.*", "T.A"], [])


def test_remove_reports_only_present_and_a_re_add_goes_last() -> None:
    subs = SubscriptionSet()
    subs.add(["A", "B", "C"])
    assert subs.remove(["B", "X", "B"]) == ["B"]
    assert subs.add(["B"]) == ["B"]
    assert list(subs.desired) == ["A", "C", "B"]


def test_diff_marks_pending_and_is_empty_until_something_changes() -> None:
    subs = SubscriptionSet()
    subs.add(["T.A", "T.B"])
    assert subs.diff() == (["T.A", "T.B"], [])
    assert subs.pending_sub == {"T.A", "T.B"} and subs.pending == {"T.A", "T.B"}
    assert subs.diff() == ([], [])  # pending ones are not sent twice
    subs.confirm_subscribed("T.A")
    assert subs.confirmed == {"T.A"} and subs.pending == {"T.B"}
    assert subs.diff() == ([], [])


def test_unsubscribe_requests_keep_the_order_of_removal() -> None:
    subs = _streaming("A", "B", "C", "D")
    subs.remove(["D"])
    subs.remove(["B", "A"])
    assert subs.diff() == ([], ["D", "B", "A"])
    assert subs.pending_unsub == {"D", "B", "A"}
    assert subs.diff() == ([], [])  # not asked twice while pending
    for c in ("D", "B", "A"):
        subs.confirm_unsubscribed(c)
    assert subs.confirmed == {"C"} and subs.pending == set()


def test_clear_unsubscribes_everything_in_desired_order() -> None:
    subs = _streaming("X", "Y", "Z")
    assert subs.clear() == ["X", "Y", "Z"]
    assert subs.desired == {}
    assert subs.diff() == ([], ["X", "Y", "Z"])


def test_removing_a_pending_subscription_unsubscribes_it() -> None:
    subs = SubscriptionSet()
    subs.add(["T.A"])
    assert subs.diff() == (["T.A"], [])
    subs.remove(["T.A"])
    assert subs.diff() == ([], ["T.A"])  # it may still be confirmed later: ask to undo it
    subs.confirm_unsubscribed("T.A")
    assert subs.pending == set() and subs.confirmed == set()


def test_re_adding_before_the_unsubscribe_is_sent_cancels_it() -> None:
    subs = _streaming("T.A")
    subs.remove(["T.A"])
    subs.add(["T.A"])
    assert subs.diff() == ([], [])


def test_reset_connection_resends_exactly_desired() -> None:
    subs = _streaming("T.A", "T.B", "Q.C")
    subs.remove(["T.B"])
    subs.add(["AM.*"])
    subs.diff()  # in flight when the connection drops
    subs.reset_connection()
    assert subs.confirmed == set() and subs.pending == set()
    assert subs.diff() == (["T.A", "Q.C", "AM.*"], [])  # nothing to unsubscribe on a new connection


def test_reject_forgets_the_channel_everywhere() -> None:
    subs = SubscriptionSet()
    subs.add(["T.GOOD", "T.BAD"])
    subs.diff()
    subs.reject("T.BAD")
    subs.confirm_subscribed("T.GOOD")
    assert list(subs.desired) == ["T.GOOD"] and subs.pending == set()
    subs.reset_connection()
    assert subs.diff() == (["T.GOOD"], [])  # a rejected channel is not re-sent on reconnect


def test_confirmation_of_an_unsubscribe_clears_a_pending_subscribe_too() -> None:
    subs = SubscriptionSet()
    subs.add(["T.A"])
    subs.diff()
    subs.confirm_unsubscribed("T.A")
    assert subs.pending == set() and subs.confirmed == set()


def test_repr_counts_without_listing() -> None:
    subs = _streaming("T.A", "T.B")
    subs.add(["T.C"])
    subs.diff()
    assert repr(subs) == "SubscriptionSet(desired=3, confirmed=2, pending=1)"


def test_a_rejected_channel_leaves_desired_is_counted_and_a_re_add_clears_it() -> None:
    subs = _streaming("T.A")
    subs.add(["Q.A", "Q.B"])
    subs.diff()
    assert subs.oldest_pending() == "Q.A"
    assert subs.reject("Q.A", "not authorized: Q.A") is True
    assert subs.reject("Q.Z", "names nothing of ours") is False  # not ours: not counted
    assert list(subs.desired) == ["T.A", "Q.B"] and subs.oldest_pending() == "Q.B"
    assert subs.rejected == {"Q.A": "not authorized: Q.A"} and subs.rejected_count == 1
    subs.reset_connection()  # a reconnect converges on desired: the rejected one is not sent again
    assert subs.diff() == (["T.A", "Q.B"], [])
    subs.add(["Q.A"])  # asked again by the user: tried again
    assert "Q.A" not in subs.rejected and subs.diff() == (["Q.A"], [])
