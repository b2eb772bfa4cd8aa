from django.urls import path

from media import views

urlpatterns = [
    path("conversas/<int:pk>/enviar/", views.staff_attach, name="media-staff-attach"),
    path("<str:token>/", views.media_file, name="media-file"),
]
