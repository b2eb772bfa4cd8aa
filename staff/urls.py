"""/atendimento/ (config/urls.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from staff import campaign_views, chat_views, views

app_name = "staff"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="staff:conversations"), name="home"),
    path("entrar/", views.LoginView.as_view(), name="login"),
    path("sair/", auth_views.LogoutView.as_view(next_page="staff:login"), name="logout"),
    path("empresa/", views.tenant_pick, name="tenant"),
    path("conversas/", views.conversation_list, name="conversations"),
    path("conversas/<int:pk>/", views.conversation_detail, name="conversation"),
    path("conversas/<int:pk>/responder/", views.reply, name="reply"),
    path("conversas/<int:pk>/nota/", views.note, name="note"),
    path("conversas/<int:pk>/assumir/", views.take, name="take"),
    path("conversas/<int:pk>/transferir/", views.transfer, name="transfer"),
    path("conversas/<int:pk>/encerrar/", views.close, name="close"),
    path("conversas/<int:pk>/devolver/", views.return_to_bot, name="return-to-bot"),
    path("conversas/<int:pk>/etiquetas/", views.tags, name="tags"),
    path("conversas/<int:pk>/agendadas/", campaign_views.scheduled_panel, name="scheduled"),
    path("conversas/<int:pk>/agendar/", campaign_views.scheduled_add, name="schedule"),
    path(
        "conversas/<int:pk>/agendadas/<int:scheduled_pk>/cancelar/",
        campaign_views.scheduled_remove,
        name="scheduled-cancel",
    ),
    path("chat/", chat_views.chat_home, name="chat"),
    path("chat/<int:pk>/", chat_views.chat_room, name="chat-room"),
    path("chat/<int:pk>/enviar/", chat_views.chat_send, name="chat-send"),
    path("chat/direto/<int:user_id>/", chat_views.chat_direct, name="chat-direct"),
    path("satisfacao/", campaign_views.satisfaction, name="satisfaction"),
    path("campanhas/", campaign_views.campaign_list, name="campaigns"),
    path("campanhas/<int:pk>/", campaign_views.campaign_detail, name="campaign"),
    path(
        "campanhas/<int:pk>/progresso/", campaign_views.campaign_progress, name="campaign-progress"
    ),
    path(
        "campanhas/<int:pk>/numeros/",
        campaign_views.campaign_progress,
        {"detail": True},
        name="campaign-numbers",
    ),
    path("campanhas/<int:pk>/exportar/", campaign_views.campaign_export, name="campaign-export"),
    path(
        "campanhas/<int:pk>/<str:action>/", campaign_views.campaign_action, name="campaign-action"
    ),
]
