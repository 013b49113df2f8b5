"""Alerts on the stream (alerts.py, docs/alerts.md).

* ``rules``: the TOML rules file -> checked rules and sinks (pure).
* ``evaluate``: the rules as a state machine: events and clock ticks in, transitions out (pure).
* ``webhook``: webhook sinks, each on its own thread with a bounded queue.
* ``service``: the MQTT shell: validate, evaluate, the state file, recovery, acknowledgements.
* ``outlet``: the second connection, which publishes the alerts and reads them back at start.
"""

from nemlive.alert.evaluate import Evaluator, Transition
from nemlive.alert.rules import Rule, RulesError, RuleSet, Sink, load_rules, parse_rules
from nemlive.alert.service import AlertService
from nemlive.alert.webhook import WebhookSink

__all__ = [
    "AlertService",
    "Evaluator",
    "Rule",
    "RuleSet",
    "RulesError",
    "Sink",
    "Transition",
    "WebhookSink",
    "load_rules",
    "parse_rules",
]
