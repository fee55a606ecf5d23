from __future__ import annotations

import uuid

import structlog
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .tasks import build_report, export_report

log = structlog.get_logger("reports.views")


@csrf_exempt
@require_POST
def create_report(request: HttpRequest) -> HttpResponse:
    report_id = uuid.uuid4().hex[:8]
    log.info("report requested", report_id=report_id)
    if request.GET.get("export"):
        export_report.delay(args=(report_id,))
    else:
        build_report.delay(args=(report_id,))  # a Task row, stamped with the context
    return JsonResponse({"report_id": report_id}, status=202)
