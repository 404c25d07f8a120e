from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from xenpair.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("order/", views.order, name="order"),
    path("pairs/<str:name>/", views.pair, name="pair"),
    path("pairs/<str:name>/<str:action>/", views.act, name="act"),
    path("jobs/<int:pk>/", views.job, name="job"),
    path("jobs/<int:pk>/status/", views.job_status, name="job_status"),
    path("operator/", views.operator, name="operator"),
    path("operator/orders/<int:pk>/<str:decision>/", views.decide, name="decide"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
