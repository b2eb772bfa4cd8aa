"""The assistant: answers free text from what the business knows, with Gemini when configured.

Pieces, each in its own module:

* `client`: the only code that talks to google-genai (timeouts, retries, error mapping);
* `prompt`: grounding from our own data (knowledge entries, hours, address, catalog,
  services, the conversation so far) and the bot's tone;
* `guard`: prompt-injection screening of what goes in and checks of what comes out;
* `breaker`: a circuit breaker shared by every worker (state in the cache, Redis in production);
* `intent`: cheap local intent/sentiment rules, so "oi" and "1" never cost a call;
* `knowledge`: the non-AI answers (keyword match on the knowledge entries and our facts);
* `assistant`: the turn itself, on the replies path (decide, defer) and on the `llm` queue
  (call, check, save the reply under the contact's lock).
* `interceptors`: its buttons and its "talk to a person?" offer, in any step;
* `tasks`: the `llm` queue's task.

Model calls never run in the webhook request nor on the `replies` queue: the engine queues
`chatbots.ai.tasks.answer_llm` (routed to `llm`) and the answer is saved and sent from there.
"""
