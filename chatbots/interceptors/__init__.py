"""Interceptors: rules that run on every customer message before the current step.

* `base`: the contract (`Interceptor.intercept(ctx) -> Reply | None`, `gates_restart`);
* `registry`: the chain, loaded once from `settings.CHATBOT_INTERCEPTORS`, and `run`;
* `consent`: opt-out and opt-in keywords (the ledger is compliance.consent's);
* `core`: human handoff, global commands ("menu"), unsupported message types;
* `quota`: the plan's quota (the rule is billing.quotas');
* `voice`: voice notes (transcribed when the assistant is on, else "please type");
* `understanding`: a request for a person, a greeting, an intent that starts a flow, and
  the engine's hooks for free text no step understood; `order_status`: "cadê meu pedido?";
* flows and the assistant keep theirs beside their code (chatbots.handlers.pedidos,
  chatbots.handlers.agenda.buttons,
  chatbots.ai.interceptors).

The order is the settings' list (config/settings.py).
"""
