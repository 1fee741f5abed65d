"""Alert notifications: what a message says, how a webhook body is signed, and the channels that send it.

- ``message``: ``AlertMessage``, the facts of one notice (raised, resolved) and its subject and text.
- ``formats``: the webhook body in each format (plain JSON, Slack-compatible, Teams-compatible).
- ``signature``: HMAC-SHA256 over ``"<timestamp>.<body>"``; ``verify`` is what a receiver runs.
- ``smtp``, ``webhook``: one attempt to send over each transport; a failure is a ``NotificationError``.
- ``channels``: the channels the settings configure, each able to send a message.

Nothing here touches the store: the services queue notifications and record each attempt.
"""
