"""The assistant's step handler moved from chatbots.handlers.ia to chatbots.handlers.assistant
(the module name now says what it holds). Saved steps follow it, both ways."""

from django.db import migrations

OLD = "chatbots.handlers.ia."
NEW = "chatbots.handlers.assistant."


def _move(apps, old: str, new: str) -> None:
    Step = apps.get_model("chatbots", "Step")
    for step in Step.objects.filter(handler_path__startswith=old).only("pk", "handler_path"):
        step.handler_path = new + step.handler_path[len(old) :]
        step.save(update_fields=["handler_path"])


def forwards(apps, schema_editor):
    _move(apps, OLD, NEW)


def backwards(apps, schema_editor):
    _move(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [("chatbots", "0002_message_intent_message_polarity_and_more")]

    operations = [migrations.RunPython(forwards, backwards)]
