"""Dashboard: credits (balance, Stripe top-ups, ledger) and usage (table, chart, CSV)."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.charts import spend_chart_svg
from accounts.decorators import dashboard_view
from accounts.forms import BuyCreditsForm, UsageFilterForm
from accounts.ids import random_base62
from accounts.reports import (
    UsageFilters,
    usage_models,
    usage_records,
    usage_spend_per_day,
    usage_totals,
)
from billing.models import CreditAccount, LedgerEntry
from billing.money import micros_to_usd_str, usd_to_micros
from billing.stripe_checkout import (
    checkout_session_create,
    checkout_session_status,
    stripe_enabled,
)
from config.api import ApiError
from keys.models import ApiKey

LEDGER_PAGE_SIZE = 25
USAGE_PAGE_SIZE = 50
CSV_MAX_ROWS = 100_000


def _credits_context(request, form: BuyCreditsForm | None = None) -> dict:
    org = request.organization
    account = CreditAccount.objects.filter(organization=org).first()
    balance = account.balance_micros if account else 0
    reserved = account.reserved_micros if account else 0
    page = Paginator(LedgerEntry.objects.filter(organization=org), LEDGER_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    if form is None:
        form = BuyCreditsForm(initial={"amount_usd": "20.00", "attempt": random_base62(20)})
    return {
        "balance": balance,
        "reserved": reserved,
        "available": balance - reserved,
        "page": page,
        "form": form,
        "stripe_enabled": stripe_enabled(),
        "min_topup": settings.STRIPE_MIN_TOPUP_USD,
    }


@dashboard_view
def credits(request):
    return render(request, "dashboard/credits.html", _credits_context(request))


@require_POST
@dashboard_view(manage=True)
def credits_buy(request):
    if not stripe_enabled():
        messages.error(request, "Top-ups are off: Stripe is not configured on this server.")
        return redirect("dashboard-credits")
    form = BuyCreditsForm(request.POST)
    if not form.is_valid():
        return render(
            request, "dashboard/credits.html", _credits_context(request, form), status=400
        )
    success = request.build_absolute_uri(reverse("dashboard-credits-success"))
    try:
        session = checkout_session_create(
            organization=request.organization,
            amount_micros=usd_to_micros(form.cleaned_data["amount_usd"]),
            attempt=form.cleaned_data["attempt"],
            # Stripe fills in {CHECKOUT_SESSION_ID}; it must stay unescaped.
            success_url=success + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=request.build_absolute_uri(reverse("dashboard-credits-cancel")),
            customer_email=request.user.email or None,
        )
    except ApiError as error:
        form.add_error(None, error.message)
        return render(
            request, "dashboard/credits.html", _credits_context(request, form), status=502
        )
    return redirect(session.url)


@dashboard_view
def credits_success(request):
    status = checkout_session_status(
        organization=request.organization, session_id=request.GET.get("session_id", "")
    )
    context = _credits_context(request)
    context["payment_status"] = status
    return render(request, "dashboard/credits_success.html", context)


@dashboard_view
def credits_cancel(request):
    return render(request, "dashboard/credits_cancel.html")


def _filters(request) -> tuple[UsageFilterForm, UsageFilters | None]:
    """The page's filters; None when they are invalid (a key of another tenant, a date that
    is not one): then nothing is listed, rather than everything the filter meant to narrow."""
    keys = ApiKey.objects.filter(organization=request.organization)
    form = UsageFilterForm(request.GET or None, keys=keys)
    filters = UsageFilters()
    if form.is_bound and not form.is_valid():
        return form, None
    if form.is_bound:
        data = form.cleaned_data
        filters = UsageFilters(
            date_from=data["date_from"],
            date_to=data["date_to"],
            key=data["key"] or None,
            model=data["model"] or None,
            status=data["status"] or None,
        )
    return form, filters


@dashboard_view
def usage(request):
    form, filters = _filters(request)
    listed = filters is not None
    filters = filters or UsageFilters()
    records = usage_records(organization=request.organization, filters=filters)
    if not listed:
        records = records.none()
    series = usage_spend_per_day(records=records, today=timezone.now().date(), filters=filters)
    page = Paginator(records, USAGE_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dashboard/usage.html",
        {
            "form": form,
            "page": page,
            "totals": usage_totals(records=records),
            "chart": spend_chart_svg(series),
            "models": usage_models(organization=request.organization),
            "query": query.urlencode(),
            "csv_query": urlencode({k: v for k, v in query.items() if v}),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@dashboard_view
def usage_csv(request):
    form, filters = _filters(request)
    if filters is None:
        problems = "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()
        )
        return HttpResponse(
            f"Invalid filter ({problems})\n", status=400, content_type="text/plain; charset=utf-8"
        )
    records = usage_records(organization=request.organization, filters=filters)
    writer = csv.writer(_Echo())
    header = [
        "created_at", "request_id", "key", "dialect", "model", "provider", "status",
        "http_status", "error_code", "pages", "input_tokens", "output_tokens",
        "provider_cost_usd", "fee_usd", "total_usd", "latency_ms",
    ]  # fmt: skip

    def rows():
        yield writer.writerow(header)
        for record in records[:CSV_MAX_ROWS].iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    record.created_at.isoformat(),
                    record.request_id,
                    record.api_key.label if record.api_key else "",
                    record.dialect,
                    record.model,
                    record.provider,
                    record.status,
                    record.http_status,
                    record.error_code,
                    record.pages,
                    record.input_tokens,
                    record.output_tokens,
                    micros_to_usd_str(record.provider_cost_micros),
                    micros_to_usd_str(record.fee_micros),
                    micros_to_usd_str(record.total_micros),
                    record.latency_ms,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    name = f"usage-{request.organization.slug}-{timezone.now():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
