from django.urls import path

from billing.views import CreditsView, UsageView
from billing.webhooks import stripe_webhook

urlpatterns: list = [
    path("stripe/webhook", stripe_webhook, name="stripe-webhook"),
    path("api/v1/credits", CreditsView.as_view(), name="credits"),
    path("api/v1/usage", UsageView.as_view(), name="usage"),
]
