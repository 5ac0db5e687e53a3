"""Seed 001's callback streaming example, with only the import changed from ``polygon`` to ``tickwire``.

Run it against the built-in simulator (no key needed)::

    tickwire sim --port 8765 &
    TICKWIRE_STREAM_URL=ws://127.0.0.1:8765 python examples/callback_stream.py

or against the real feed with your key in place of 'KEY'. Ctrl-C stops it.
"""

import json

import tickwire  # was: import polygon


def my_own_handler_function(ws, msg):
    print(msg)  # here msg is the raw string which contains the msg.
    # to convert it to a list/dict, it needs to be decoded.

    # DECODING the msg from string to list/dict
    msg = json.loads(msg)  # now msg is a python object which you can use easily to access data from.


def sample_error_handler(ws, error):
    print(error)


def sample_close_handler(ws, close_code, close_msg):
    print(f"Stream close with code: {close_code} || msg: {close_msg}")


stream_client = tickwire.StreamClient(
    "KEY",
    "stocks",
    on_message=my_own_handler_function,
    on_error=sample_error_handler,
    on_close=sample_close_handler,
)

stream_client.start_stream_thread()

# subscriptions here.
stream_client.subscribe_stock_trades(["AMD", "NVDA"])
stream_client.subscribe_stock_quotes(["AMD"])
