from django.urls import path

from keys.views import CurrentKeyView, KeyDetailView, KeyListView

urlpatterns = [
    path("api/v1/key", CurrentKeyView.as_view(), name="key-current"),
    path("api/v1/keys", KeyListView.as_view(), name="keys-list"),
    path("api/v1/keys/<str:public_id>", KeyDetailView.as_view(), name="keys-detail"),
]
