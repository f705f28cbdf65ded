from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views, views_billing, views_keys, views_playground
from accounts.forms import AccountPasswordResetForm, EmailAuthenticationForm
from accounts.throttle import refused_sign_in_is_429

auth = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        refused_sign_in_is_429(
            auth_views.LoginView.as_view(
                template_name="accounts/login.html",
                authentication_form=EmailAuthenticationForm,
                redirect_authenticated_user=True,
            )
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            form_class=AccountPasswordResetForm,
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("invite/<str:token>/", views.invite_accept, name="invite-accept"),
]

dashboard = [
    path("dashboard/", views.overview, name="dashboard"),
    path("dashboard/org/switch/", views.org_switch, name="dashboard-org-switch"),
    path("dashboard/org/new/", views.org_new, name="dashboard-org-new"),
    path("dashboard/members/", views.members, name="dashboard-members"),
    path("dashboard/members/<int:membership_id>/role/", views.member_role, name="member-role"),
    path(
        "dashboard/members/<int:membership_id>/remove/", views.member_remove, name="member-remove"
    ),
    path(
        "dashboard/invitations/<int:invitation_id>/cancel/",
        views.invitation_cancel,
        name="invitation-cancel",
    ),
    path("dashboard/keys/", views_keys.key_list, name="dashboard-keys"),
    path("dashboard/keys/new/", views_keys.key_create, name="dashboard-key-new"),
    path("dashboard/keys/<str:public_id>/", views_keys.key_edit, name="dashboard-key-edit"),
    path(
        "dashboard/keys/<str:public_id>/toggle/",
        views_keys.key_toggle,
        name="dashboard-key-toggle",
    ),
    path(
        "dashboard/keys/<str:public_id>/revoke/",
        views_keys.key_revoke,
        name="dashboard-key-revoke",
    ),
    path("dashboard/credits/", views_billing.credits, name="dashboard-credits"),
    path("dashboard/credits/buy/", views_billing.credits_buy, name="dashboard-credits-buy"),
    path(
        "dashboard/credits/success/",
        views_billing.credits_success,
        name="dashboard-credits-success",
    ),
    path(
        "dashboard/credits/cancel/", views_billing.credits_cancel, name="dashboard-credits-cancel"
    ),
    path("dashboard/usage/", views_billing.usage, name="dashboard-usage"),
    path("dashboard/usage.csv", views_billing.usage_csv, name="dashboard-usage-csv"),
    path("dashboard/playground/", views_playground.playground, name="dashboard-playground"),
]

urlpatterns = auth + dashboard
