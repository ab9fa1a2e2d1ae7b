"""The audit log for admins: filters, pages of 100, and the same selection as CSV or JSON."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render

from accounts.roles import admin_required
from audit import export
from audit.models import AuditEvent


def _filters(request):
    try:
        return export.AuditFilter.from_query(request.GET), None
    except export.FilterError as exc:
        return export.AuditFilter(), str(exc)


@admin_required
def audit_log(request):
    filters, error = _filters(request)
    page = Paginator(export.events(filters), export.PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/log.html",
        {
            "page": page,
            "rows": [(event, export.actor_of(event)) for event in page.object_list],
            "filters": filters,
            "sent": request.GET,
            "query": query.urlencode(),
            "error": error,
            "vias": [value for value, _label in AuditEvent.VIA],
            "retention_days": getattr(settings, "WATCHKEEPER_AUDIT_RETENTION_DAYS", 400),
            **export.choices(),
        },
        status=400 if error else 200,
    )


@admin_required
def audit_export(request, fmt: str):
    """The page's selection (all of it, oldest first) as CSV or JSON, streamed."""
    filters, error = _filters(request)
    if error:
        return render(request, "400.html", {"message": error}, status=400)
    rows = export.events(filters).order_by("at", "id")
    if fmt == "csv":
        response = StreamingHttpResponse(export.csv_lines(rows), content_type="text/csv")
    else:
        response = StreamingHttpResponse(export.json_chunks(rows), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="audit.{fmt}"'
    return response
