from rest_framework import serializers

from clientes.models import Cliente


class ClienteSerializer(serializers.ModelSerializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)

    class Meta:
        model = Cliente
        fields = [
            "id",
            "nome",
            "telefone",
            "whatsapp_user_id",
            "tags",
            "idioma",
            "criado_em",
            "atualizado_em",
        ]
        read_only_fields = ["id", "whatsapp_user_id", "criado_em", "atualizado_em"]
