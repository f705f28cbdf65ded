"""The project's URLs plus a seed-000 endpoint whose answer holds a value JSON cannot
encode (NaN), for tests/ocr/test_unrenderable_answer.py: a fault that only shows after the
charge, as a renderer's bug or an upstream value that slipped through would."""

from __future__ import annotations

from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from ocr.dialects.views import AnyRouterExtractView


class UnrenderableExtractView(AnyRouterExtractView):
    def render(self, request, outcome):
        return {**super().render(request, outcome), "confidence": float("nan")}


urlpatterns = [
    path("api/v1/ocr/extract-unrenderable", UnrenderableExtractView.as_view()),
    *project_urlpatterns,
]
