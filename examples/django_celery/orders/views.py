from __future__ import annotations

import uuid

import structlog
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .tasks import fulfil

log = structlog.get_logger("orders.views")


@csrf_exempt
@require_POST
def create_order(request: HttpRequest) -> HttpResponse:
    order_id = uuid.uuid4().hex[:8]
    log.info("order accepted", order_id=order_id)
    fulfil.delay(order_id)
    return JsonResponse({"order_id": order_id}, status=202)
