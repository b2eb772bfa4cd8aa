"""/atendimento/ (config/urls.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from staff import (
    campaign_views,
    catalog_photo,
    catalog_views,
    chat_views,
    connection_views,
    experiment_views,
    insights_views,
    onboarding,
    studio,
    views,
)

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
    path("comecar/", onboarding.onboarding, name="onboarding"),
    path("comecar/fluxo/", onboarding.flow_pick, name="onboarding-flow"),
    path("comecar/robo/", onboarding.bot_create, name="onboarding-bot"),
    path("catalogo/", catalog_views.catalog, name="catalog"),
    path(
        "catalogo/categorias/nova/",
        catalog_views.item_edit,
        {"kind": "categoria"},
        name="categoria-add",
    ),
    path(
        "catalogo/categorias/<int:pk>/",
        catalog_views.item_edit,
        {"kind": "categoria"},
        name="categoria-edit",
    ),
    path(
        "catalogo/categorias/<int:pk>/<str:direction>/",
        catalog_views.categoria_move,
        name="categoria-move",
    ),
    path(
        "catalogo/produtos/novo/", catalog_views.item_edit, {"kind": "produto"}, name="produto-add"
    ),
    path(
        "catalogo/produtos/<int:pk>/",
        catalog_views.item_edit,
        {"kind": "produto"},
        name="produto-edit",
    ),
    path(
        "catalogo/servicos/novo/", catalog_views.item_edit, {"kind": "servico"}, name="servico-add"
    ),
    path(
        "catalogo/servicos/<int:pk>/",
        catalog_views.item_edit,
        {"kind": "servico"},
        name="servico-edit",
    ),
    path("catalogo/<str:kind>/<int:pk>/ativo/", catalog_views.item_toggle, name="catalog-toggle"),
    path("catalogo/foto/<str:token>/", catalog_photo.photo, name="catalog-photo"),
    path("robos/", studio.bot_list, name="bots"),
    path("robos/<int:pk>/fluxo/", studio.flow, name="flow"),
    path("robos/<int:pk>/fluxo/nova/", studio.step_add, name="step-add"),
    path("robos/<int:pk>/fluxo/<int:step_pk>/", studio.step_edit, name="step-edit"),
    path(
        "robos/<int:pk>/fluxo/<int:step_pk>/teste-ab/",
        experiment_views.step_experiments,
        name="step-experiments",
    ),
    path(
        "robos/<int:pk>/fluxo/<int:step_pk>/teste-ab/iniciar/",
        experiment_views.experiment_start,
        name="experiment-start",
    ),
    path(
        "robos/<int:pk>/fluxo/<int:step_pk>/teste-ab/<int:experiment_pk>/encerrar/",
        experiment_views.experiment_stop,
        name="experiment-stop",
    ),
    path(
        "robos/<int:pk>/fluxo/<int:step_pk>/<str:action>/",
        studio.step_action,
        name="step-action",
    ),
    path("robos/<int:pk>/simulador/", studio.simulator, name="simulator"),
    path("robos/<int:pk>/conexao/", connection_views.connection, name="connection"),
    path(
        "robos/<int:pk>/conexao/testar/",
        connection_views.connection_test,
        name="connection-test",
    ),
    path("robos/<int:pk>/comportamento/", studio.behaviour, name="behaviour"),
    path(
        "robos/<int:pk>/conexao/estado/",
        connection_views.connection_status,
        name="connection-status",
    ),
    path("chat/", chat_views.chat_home, name="chat"),
    path("chat/<int:pk>/", chat_views.chat_room, name="chat-room"),
    path("chat/<int:pk>/enviar/", chat_views.chat_send, name="chat-send"),
    path("chat/direto/<int:user_id>/", chat_views.chat_direct, name="chat-direct"),
    path("satisfacao/", campaign_views.satisfaction, name="satisfaction"),
    path("clientes/", insights_views.insights_page, name="insights"),
    path(
        "conversas/<int:pk>/sugestoes/",
        insights_views.recommendations_panel,
        name="recommendations",
    ),
    path("campanhas/", campaign_views.campaign_list, name="campaigns"),
    path("campanhas/nova/", campaign_views.campaign_new, name="campaign-new"),
    path("campanhas/nova/publico/", campaign_views.campaign_audience, name="campaign-audience"),
    path("campanhas/nova/parametros/", campaign_views.campaign_params, name="campaign-params"),
    path("campanhas/nova/importar/", campaign_views.campaign_import, name="campaign-import"),
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
