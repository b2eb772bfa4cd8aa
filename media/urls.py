from django.urls import path

from media import views

urlpatterns = [path("<str:token>/", views.media_file, name="media-file")]
