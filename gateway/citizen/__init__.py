"""The citizen's voice, both ways: 好差评 evaluations and 12345 work orders.

Ratings from every channel are read from the district's collection point, linked to their cases, forwarded to
the provincial 好差评 system once; a bad review opens a callback due the same working day and a rectification;
appeals go up level by level; misuse of the window's evaluator is flagged. 12345 work orders are read from the
hotline platform, routed to the competent department within 15 minutes (or returned when out of scope), and the
department's signature and reply go back once; one redo, never two.

    settings = load_citizen()
    sync_evaluations(engine, settings); deliver(engine, "provincial_pj", ProvincialClient(settings.provincial_pj))
    sync_workorders(engine, settings);  deliver(engine, "hotline", HotlineClient(settings.hotline))
    detect_misuse(engine, settings.policy.misuse); scan_citizen(engine)
    evaluation_summary(engine); workorder_summary(engine)   # for the ops console
"""

from __future__ import annotations

from .clients import EvaluatorClient, HotlineClient, ProvincialClient
from .conventions import from_evaluator, from_hotline, to_provincial
from .evaluations import (
    CitizenError,
    EvaluationReport,
    callback_due,
    evaluation_summary,
    file_appeal,
    finish_rectification,
    list_evaluations,
    poll_appeals,
    record_callback,
    sync_evaluations,
)
from .evaluations import replay_rejected as replay_evaluations
from .misuse import MisuseReport, detect_misuse
from .models import BAD_LEVELS, Evaluation, Level, WorkOrder
from .outbox import DeliveryReport, ResendReport, deliver, resend_dead
from .settings import CitizenSettings, load_citizen, parse_citizen
from .supervision import ALERT_KINDS, scan_citizen
from .workorders import (
    WorkOrderReport,
    list_workorders,
    reply_workorder,
    request_redo,
    sign_workorder,
    sync_workorders,
    workorder_summary,
)
from .workorders import replay_rejected as replay_workorders

__all__ = ["ALERT_KINDS", "BAD_LEVELS", "CitizenError", "CitizenSettings", "DeliveryReport", "Evaluation",
           "EvaluationReport", "EvaluatorClient", "HotlineClient", "Level", "MisuseReport", "ProvincialClient",
           "WorkOrder", "WorkOrderReport", "callback_due", "deliver", "detect_misuse", "evaluation_summary",
           "file_appeal", "finish_rectification", "list_evaluations", "list_workorders", "from_evaluator", "from_hotline", "load_citizen",
           "parse_citizen", "poll_appeals", "record_callback", "replay_evaluations", "replay_workorders", "reply_workorder", "resend_dead", "ResendReport", "request_redo", "scan_citizen",
           "sign_workorder", "sync_evaluations", "sync_workorders", "to_provincial", "workorder_summary"]
