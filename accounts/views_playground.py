"""Dashboard playground: OCR one uploaded file through the same pipeline as the API.

The request runs as the organization's dedicated "playground" key, so it is rate limited,
reserved, charged and logged like any API request and shows up on the usage page.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

from accounts.decorators import dashboard_view
from accounts.forms import PlaygroundForm
from accounts.markdown import markdown_to_html
from config.api import ApiError
from keys.models import ApiKey
from keys.services import api_key_create
from ocr.models import ProviderModel
from ocr.types import DocumentSource, OcrRequest

PLAYGROUND_KEY_NAME = "playground"
PLAYGROUND_MAX_BYTES = 20 * 1024 * 1024


def playground_key(*, organization, user) -> ApiKey:
    """The organization's playground key: reused while usable, created when missing."""
    key = (
        ApiKey.objects.select_related("organization")
        .filter(
            organization=organization,
            name=PLAYGROUND_KEY_NAME,
            kind=ApiKey.Kind.API,
            revoked_at__isnull=True,
            disabled=False,
        )
        .order_by("created_at")
        .first()
    )
    if key is None:
        key, _secret = api_key_create(
            organization=organization, name=PLAYGROUND_KEY_NAME, created_by=user
        )
    return key


def _models() -> list[str]:
    names = (
        ProviderModel.objects.filter(enabled=True, provider__enabled=True)
        .order_by("provider__priority", "name")
        .values_list("name", flat=True)
    )
    ordered = list(dict.fromkeys(names))
    default = settings.OCR_DEFAULT_MODEL
    if default in ordered:
        ordered.remove(default)
        ordered.insert(0, default)
    return ordered


@dashboard_view
def playground(request):
    # Imported here: the pipeline pulls in the OCR engines, which other pages never need.
    from billing.ratelimit import ratelimit_acquire
    from ocr.pipeline import ocr_execute, request_id_new

    models = _models()
    form = PlaygroundForm(request.POST or None, request.FILES or None, models=models)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > PLAYGROUND_MAX_BYTES:
            form.add_error("file", "The playground takes files up to 20 MiB.")
            return render(request, "dashboard/playground.html", context, status=413)
        key = playground_key(organization=request.organization, user=request.user)
        ocr_request = OcrRequest(
            dialect="playground",
            source=DocumentSource(data=upload.read(), filename=upload.name),
            max_bytes=PLAYGROUND_MAX_BYTES,
            model=form.cleaned_data["model"] or None,
        )
        request_id = request_id_new()
        try:
            ticket = ratelimit_acquire(api_key=key)
            try:
                outcome = ocr_execute(api_key=key, ocr_request=ocr_request, request_id=request_id)
            finally:
                ticket.release()
        except ApiError as error:
            context["error"] = error
            return render(request, "dashboard/playground.html", context, status=error.status)
        text = outcome.result.text
        context.update(
            outcome=outcome,
            markdown=text,
            rendered=markdown_to_html(text),
            filename=upload.name,
        )
    return render(request, "dashboard/playground.html", context)
