from rest_framework import serializers

from agenda.models import DURACAO_PADRAO_MINUTOS, Agendamento, Servico
from billing.api.viewsets import TenantPrimaryKeyRelatedField
from clientes.models import Cliente


class ServicoSerializer(serializers.ModelSerializer):
    class Meta:
        model = Servico
        fields = [
            "id",
            "nome",
            "duracao_minutos",
            "preco",
            "cal_event_type_id",
            "ativo",
            "criado_em",
            "atualizado_em",
        ]
        read_only_fields = ["id", "criado_em", "atualizado_em"]
        # Optional, as the model's default: the schema then says which value it takes.
        extra_kwargs = {"duracao_minutos": {"default": DURACAO_PADRAO_MINUTOS}}


class AgendamentoSerializer(serializers.ModelSerializer):
    cliente_nome = serializers.CharField(source="cliente.nome", read_only=True)
    servico_nome = serializers.CharField(source="servico.nome", read_only=True)

    class Meta:
        model = Agendamento
        fields = [
            "id",
            "cliente",
            "cliente_nome",
            "servico",
            "servico_nome",
            "inicio",
            "fim",
            "status",
            "origem",
            "cal_booking_uid",
            "reagendado_para",
            "compareceu",
            "confirmado_em",
            "risco_falta",
            "confirmacao_extra_enviada_em",
            "lembrete_24h_enviado_em",
            "lembrete_1h_enviado_em",
            "followup_enviado_em",
            "observacoes",
            "criado_em",
            "atualizado_em",
        ]
        read_only_fields = fields


class AgendamentoCriarSerializer(serializers.Serializer):
    cliente = TenantPrimaryKeyRelatedField(queryset=Cliente.objects.all())
    servico = TenantPrimaryKeyRelatedField(queryset=Servico.objects.all())
    inicio = serializers.DateTimeField()
    observacoes = serializers.CharField(required=False, allow_blank=True, default="")


class CancelarSerializer(serializers.Serializer):
    motivo = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ReagendarSerializer(serializers.Serializer):
    inicio = serializers.DateTimeField()


class PresencaSerializer(serializers.Serializer):
    compareceu = serializers.BooleanField()


class DisponibilidadeQuerySerializer(serializers.Serializer):
    servico = serializers.IntegerField()
    data = serializers.DateField()


class SlotSerializer(serializers.Serializer):
    inicio = serializers.DateTimeField()
    fim = serializers.DateTimeField()


class DisponibilidadeSerializer(serializers.Serializer):
    servico = serializers.IntegerField()
    data = serializers.DateField()
    horarios = SlotSerializer(many=True)


class LembreteSerializer(serializers.Serializer):
    """What "send reminder now" did: the outbound message and its status."""

    mensagem = serializers.IntegerField()
    status = serializers.CharField()
    erro = serializers.CharField(allow_blank=True)
    detalhe = serializers.CharField(allow_blank=True)


class InsightsQuerySerializer(serializers.Serializer):
    semanas = serializers.IntegerField(min_value=1, max_value=52, default=8)


class HoraOcupacaoSerializer(serializers.Serializer):
    dia_semana = serializers.IntegerField(help_text="0 = segunda-feira … 6 = domingo")
    dia_nome = serializers.CharField()
    hora = serializers.IntegerField()
    agendamentos = serializers.IntegerField()
    minutos_ocupados = serializers.IntegerField()
    minutos_abertos = serializers.IntegerField()
    ocupacao = serializers.FloatField(allow_null=True, help_text="0 a 1; nulo fora do horário")


class ComparecimentoServicoSerializer(serializers.Serializer):
    servico = serializers.IntegerField()
    nome = serializers.CharField()
    atendidos = serializers.IntegerField()
    faltas = serializers.IntegerField()
    taxa_comparecimento = serializers.FloatField()


class SugestaoHorarioSerializer(serializers.Serializer):
    acao = serializers.ChoiceField(choices=["abrir", "fechar"])
    dia_semana = serializers.IntegerField()
    hora = serializers.IntegerField()
    motivo = serializers.CharField()


class AgendaInsightsSerializer(serializers.Serializer):
    semanas = serializers.IntegerField()
    desde = serializers.DateField()
    ate = serializers.DateField()
    ocupacao = HoraOcupacaoSerializer(many=True)
    comparecimento_por_servico = ComparecimentoServicoSerializer(many=True)
    mais_cheios = HoraOcupacaoSerializer(many=True)
    mais_vazios = HoraOcupacaoSerializer(many=True)
    sugestoes = SugestaoHorarioSerializer(many=True)
