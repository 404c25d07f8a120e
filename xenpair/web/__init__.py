"""The self-service web application (optional extra: pip install xenpair[web]); the CLI never imports it.

Customers order pairs, operators approve them, and `xenpair web worker` carries out each approved
order as a job with the very plan/apply of the CLI (xenpair.core), under the same registry lock.
"""
