"""The web page's routes, under /ui/ (`cohort.urls`). Every one is a view of `cohort.ui.views`."""

from django.urls import path

from cohort.ui import views

app_name = "ui"

urlpatterns = [
    path("", views.groups, name="groups"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("sign-in/<str:key>/", views.sign_in_link, name="sign-in-link"),
    path("groups/create/", views.create, name="create"),
    path("groups/<uuid:uuid>/pull/", views.pull, name="pull"),
    path("groups/<uuid:uuid>/delete/", views.delete, name="delete"),
]
