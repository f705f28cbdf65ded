from django.urls import path

from ocr import views_files
from ocr.dialects import views
from ocr.views_models import MistralModelListView, MistralModelView, ModelListView

urlpatterns = [
    path("api/v1/ocr/extract", views.AnyRouterExtractView.as_view(), name="ocr-anyrouter"),
    path("v1/ocr", views.V1OcrView.as_view(), name="ocr-v1"),
    path("api/ocr-structured-v4", views.InvoiceView.as_view(), name="ocr-invoice"),
    path("api/upload", views.UploadView.as_view(), name="ocr-upload"),
    path("api/ocr/process", views.ProcessView.as_view(), name="ocr-process"),
    path("api/files/<path:key>", views.FileView.as_view(), name="ocr-file"),
    path("ocr", views.OtoroshiOcrView.as_view(), name="ocr-otoroshi"),
    path("api/v1/models", ModelListView.as_view(), name="models"),
    path("v1/models", MistralModelListView.as_view(), name="mistral-models"),
    path("v1/models/<path:model_id>", MistralModelView.as_view(), name="mistral-model"),
    path("v1/files", views_files.FilesView.as_view(), name="files"),
    path("v1/files/<str:file_id>", views_files.FileView.as_view(), name="file"),
    path(
        "v1/files/<str:file_id>/content", views_files.FileContentView.as_view(), name="file-content"
    ),
    path("v1/files/<str:file_id>/url", views_files.FileSignedUrlView.as_view(), name="file-url"),
    path("files/signed/<str:file_id>", views_files.SignedFileView.as_view(), name="files-signed"),
]
